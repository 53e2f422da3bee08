"""HTTP API and clinician's page over trained fold ensembles (``cardiopredict serve``).

``create_app(load_models([...]))`` builds the FastAPI app; ``run_server`` checks the host, loads the
models and runs uvicorn. See ``docs/SERVE.md`` for the API and the security model.
"""

from cardiopredict._lazy import lazy_exports

_LAZY = {
    "create_app": "cardiopredict.serve._app",
    "load_models": "cardiopredict.serve._models",
    "load_model": "cardiopredict.serve._models",
    "ServedModel": "cardiopredict.serve._models",
    "UnavailableModel": "cardiopredict.serve._models",
    "score": "cardiopredict.serve._scoring",
    "extract_zip_safely": "cardiopredict.serve._uploads",
    "ZipLimits": "cardiopredict.serve._uploads",
    "check_bind": "cardiopredict.serve._run",
    "run_server": "cardiopredict.serve._run",
}
__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
