"""The package version, in one place below every stage (baselines record it)."""

__version__ = "0.1.0"
