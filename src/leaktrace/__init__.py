"""leaktrace: find, release, watch and trace customer personal information leaked by insiders."""

__version__ = "0.1.0"
