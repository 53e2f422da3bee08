"""cardiopredict.training."""
