"""The cnnspec grammar (cnnspec.lark), shipped inside the package as ``cnnspec.grammar``."""
