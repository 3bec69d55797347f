"""The package version (also in pyproject.toml), in a module of its own so that any part of
cnnspec can read it without importing the package facade."""
__version__ = "0.1.0"
