"""Case reports: a self-contained HTML page for investigators (:mod:`.html`)."""
