"""Publishing a finished temporary file or folder in one rename, with the usual permissions.

``tempfile.mkstemp``/``mkdtemp`` create private (0600/0700) entries; a report or cohort others on the
machine are meant to read gets the permissions a plain ``open``/``mkdir`` would have given it.
"""

from __future__ import annotations

import os
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Give ``tmp`` default permissions and rename it onto ``path`` (atomic on one file system)."""
    mode = 0o777 if Path(tmp).is_dir() else 0o666
    os.chmod(tmp, mode & ~_umask())
    os.replace(tmp, path)
    return Path(path)
