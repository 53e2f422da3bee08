"""The one helper for lazy re-exports in package ``__init__`` files (nothing heavy imported here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package that re-exports ``names`` lazily.

    ``names`` maps each public name to the module defining it, so importing the package stays cheap
    (no torch, no matplotlib) until a name is used. Usage in ``__init__.py``::

        __getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 - module-level protocol name
        if name in names:
            value = getattr(import_module(names[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
