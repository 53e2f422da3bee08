"""cardiopredict.cohort."""
