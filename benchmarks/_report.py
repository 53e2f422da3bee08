"""What every benchmark does with its result: print it as JSON and, when asked, write it atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(result: dict[str, Any], path: Path | None, *, indent: int = 2) -> None:
    """Print ``result`` as JSON on stdout and write the same text to ``path`` (atomically) when given."""
    text = json.dumps(result, indent=indent)
    print(text)
    if path:
        from cardiopredict._io import atomic_write_text

        atomic_write_text(path, text + "\n")
