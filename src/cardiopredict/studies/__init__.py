"""cardiopredict.studies."""
