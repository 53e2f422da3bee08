"""cardiopredict.evaluation."""
