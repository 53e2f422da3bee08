"""cardiopredict.plots."""
