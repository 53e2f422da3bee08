"""Model registry: builders registered by name, as in torchvision ``models/_api.py``.

A saved model stores only its registry name and keyword arguments (``model.json``); loading calls
:func:`build_model` with them, so a name must always mean the same builder.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from cardiopredict.errors import ConfigError

M = TypeVar("M", bound=Callable[..., nn.Module])

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[M], M]:
    """Decorator registering a model builder under ``name``.

    Parameters
    ----------
    name : str
        Registry name (lower case by convention). Registering a second builder under a name already
        in use raises ``ValueError``: a saved ``model.json`` must always rebuild the same network.

    Examples
    --------
    >>> @register_model("tiny")  # doctest: +SKIP
    ... def tiny(*, n_outputs: int = 1) -> nn.Module:
    ...     return nn.LazyLinear(n_outputs)
    """

    def wrapper(builder: M) -> M:
        if name in _BUILDERS:
            raise ValueError(
                f"A model is already registered under the name {name!r} "
                f"({_BUILDERS[name].__module__}.{_BUILDERS[name].__qualname__}); choose another name."
            )
        _BUILDERS[name] = builder
        return builder

    return wrapper


def list_models() -> list[str]:
    """Sorted names of the registered models."""
    _load_builtin()
    return sorted(_BUILDERS)


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name`` with keyword arguments ``kwargs``.

    Raises
    ------
    ConfigError
        When no model is registered under ``name`` (the message lists the known names) or the
        builder rejects the arguments.
    """
    _load_builtin()
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ConfigError(
            f"model {name!r} is not registered; known models: {', '.join(sorted(_BUILDERS))}. "
            "Register new ones with @cardiopredict.models.register_model(name)."
        ) from None
    try:
        return builder(**kwargs)
    except TypeError as error:
        raise ConfigError(f"model {name!r}: bad keyword arguments {sorted(kwargs)}: {error}") from error


def resolved_kwargs(name: str, **kwargs: Any) -> dict[str, Any]:
    """Every keyword argument of builder ``name``: ``kwargs`` plus the builder's defaults for the rest.

    Saved models store this full set (``model.json``), so a later change of a default cannot change
    the network a file is loaded into.

    Raises
    ------
    ConfigError
        Unknown model name, or an argument the builder does not take.
    """
    _load_builtin()
    if name not in _BUILDERS:
        build_model(name)  # raises the ConfigError listing the known names
    parameters = inspect.signature(_BUILDERS[name]).parameters
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        raise ConfigError(f"model {name!r} takes no argument(s) {unknown}; it takes {sorted(parameters)}.")
    resolved = {
        key: param.default
        for key, param in parameters.items()
        if param.default is not inspect.Parameter.empty
    }
    resolved.update(kwargs)
    return resolved


def _load_builtin() -> None:
    # The built-in models register themselves when their module is imported.
    from cardiopredict.models import ecgnet, scarnet  # noqa: F401
