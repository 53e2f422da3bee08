"""Cross-validated training of the registered networks and the fold ensemble that reuses them.

``crossval.make_folds`` / ``crossval.run_cv`` train and score patient-level folds; ``artifacts.Ensemble``
loads the saved fold models (safetensors + JSON) and predicts; ``module.ClassifierModule`` is the
LightningModule both use. Import from the submodules (``from cardiopredict.training.crossval import
run_cv``); nothing heavy is imported here.
"""
