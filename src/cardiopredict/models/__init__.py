"""cardiopredict.models."""
