"""Start the server: refuse an exposed host without a token, load the models, run uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from cardiopredict.errors import ConfigError
from cardiopredict.serve._uploads import DEFAULT_MAX_UPLOAD_BYTES

log = logging.getLogger("cardiopredict.serve")
MAX_DEFAULT_PROCESSES = 4
"""Worker processes started by default on a machine with more cores (each takes about 0.5 GB)."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without an access token.

    Raises
    ------
    ConfigError
        ``host`` is not a loopback address and no token is set.
    """
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"--host {host} would expose the service beyond this machine without an access token. Set "
            "CARDIOPREDICT_TOKEN (or --token) to a long random secret, or keep the default 127.0.0.1."
        )


def run_server(
    model_options: Sequence[str | Path],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    torch_threads: int = 1,
    processes: int | None = None,
) -> None:
    """Load the models and serve them until interrupted.

    Parameters
    ----------
    model_options : sequence of str or Path
        ``DIR`` or ``NAME=DIR`` per fold ensemble (``<run>/models/<model>``).
    host, port
        Where to listen; a non-loopback ``host`` needs ``token``.
    token : str, optional
        Access token every API call must send (``Authorization: Bearer <token>``).
    max_upload_bytes : int
        Largest request body accepted.
    torch_threads : int
        Threads per forward pass; 1 lets concurrent requests share the cores instead of contending.
    processes : int, optional
        Worker processes that score and draw (default: one per CPU core this process may use, at
        most 4; 0: threads of the server process). Each holds torch and the models (about 0.5 GB
        resident), so memory grows with it.

    Raises
    ------
    ConfigError
        Exposed host without token, no model, two models with one name, or no model that loads.
    """
    import torch
    import uvicorn

    from cardiopredict.serve._app import create_app
    from cardiopredict.serve._models import ServedModel, load_models

    check_bind(host, token)
    models = load_models(model_options)
    for name, model in models.items():
        if not isinstance(model, ServedModel):
            log.warning("model %s is unavailable: %s", name, model.reason)
    if not any(isinstance(model, ServedModel) for model in models.values()):
        reasons = "; ".join(f"{name}: {model.reason}" for name, model in models.items())
        raise ConfigError(f"no model could be loaded ({reasons}).")
    torch.set_num_threads(max(1, int(torch_threads)))
    if processes is None:
        processes = min(len(os.sched_getaffinity(0)), MAX_DEFAULT_PROCESSES)
    app = create_app(
        models,
        token=token,
        max_upload_bytes=max_upload_bytes,
        processes=processes,
        torch_threads=torch_threads,
    )
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
