"""Model factories for the outside-model tests (module:factory and file.py:factory)."""
