"""Tracing a leaked list: matching, evidence channels (:mod:`.channels`), scoring, verdict."""
