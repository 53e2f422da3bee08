"""cardiopredict.cmr."""
