"""The net under every LGE reader: any failure that is not a CardioPredictError is named by file."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from cardiopredict.errors import CardioPredictError, LGEFormatError


@contextlib.contextmanager
def named_failures(path: Path, what: str) -> Iterator[None]:
    """Turn any failure that is not already a :class:`CardioPredictError` into an LGEFormatError naming
    ``path`` (the net under the readers' own checks)."""
    try:
        yield
    except CardioPredictError:
        raise
    except Exception as error:  # the reader's last line of defence (MemoryError included)
        detail = " ".join(str(error).split())[:200]  # one line, shortened
        raise LGEFormatError(
            f"{what} {path} cannot be read ({type(error).__name__}: {detail}). It is damaged, "
            "truncated or a variant cardiopredict does not handle; re-export or re-download it "
            "(docs/CMR_FORMATS.md)."
        ) from None
