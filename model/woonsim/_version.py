"""The version of woonsim (recorded in every output)."""

__version__ = "0.1.0"
