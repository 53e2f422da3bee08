"""Uploads: a size cap on the request body, neutral file names, and zip extraction that cannot escape.

An uploaded file is stored under the name of its field (``pre.csv``), never under the name the client
sent (clinics name files after patients). A zip (an LGE series, later) is extracted only when every
member stays inside the target folder, is a plain file, and the total uncompressed size, the number of
members and the compression ratio stay under limits, so a zip bomb is refused before it is inflated.
"""

from __future__ import annotations

import json
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cardiopredict.errors import CorruptFileError, InputError

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_SUFFIX_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.")


@dataclass(frozen=True)
class ZipLimits:
    """Limits of :func:`extract_zip_safely`: total uncompressed bytes, members, per-member ratio."""

    max_total_bytes: int = 512 * 1024 * 1024
    max_members: int = 2000
    max_ratio: float = 200.0


def upload_name(field: str, client_name: str | None) -> str:
    """File name to store an upload under: the field name plus the client's suffix when it is plain.

    ``("pre", "Doe_Jane 2024.xml")`` -> ``"pre.xml"``. The suffix is kept because some readers use it
    as a hint; anything else in the client's name is dropped.
    """
    suffixes = PurePosixPath(str(client_name or "").replace("\\", "/")).suffixes[-2:]
    suffix = "".join(suffixes).lower()
    if len(suffix) > 12 or not set(suffix) <= _SUFFIX_CHARS:
        suffix = ""
    return f"{field}{suffix}"


def extract_zip_safely(archive: Path, target: Path, *, limits: ZipLimits | None = None) -> list[Path]:
    """Extract ``archive`` into ``target`` after checking every member; nothing is written otherwise.

    Parameters
    ----------
    archive : Path
        The uploaded zip file.
    target : Path
        Existing empty folder to extract into.
    limits : ZipLimits, optional

    Returns
    -------
    list of Path
        The extracted files.

    Raises
    ------
    CorruptFileError
        Not a zip file, or a damaged one.
    InputError
        A member whose name is absolute or climbs out of the folder (``../``), a link or device, an
        encrypted member, or sizes beyond the limits (a zip bomb).
    """
    limits = limits or ZipLimits()
    try:
        handle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise CorruptFileError(
            f"the upload is not a readable zip file ({error}); re-create the zip."
        ) from error
    with handle:
        members = [info for info in handle.infolist() if not info.is_dir()]
        _check_members(members, limits)
        root = target.resolve()
        written = []
        for info in members:
            destination = (root / info.filename).resolve()
            destination.parent.mkdir(parents=True, exist_ok=True)
            _copy_member(handle, info, destination, limits)
            written.append(destination)
    return written


def _check_members(members: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    if len(members) > limits.max_members:
        raise InputError(
            f"the zip holds {len(members)} files, more than the limit of {limits.max_members}; "
            "zip only the LGE series and its contours."
        )
    total = 0
    for info in members:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (parts and (":" in parts[0] or ".." in parts)):
            raise InputError(
                f"zip member {name!r} points outside the zip's folder (absolute path or '..'); "
                "re-create the zip from the folder holding the series."
            )
        mode = info.external_attr >> 16
        if mode and not (stat.S_ISREG(mode) or mode & 0o170000 == 0):
            raise InputError(f"zip member {name!r} is a link or special file; zip plain files only.")
        if info.flag_bits & 0x1:
            raise InputError(f"zip member {name!r} is encrypted; upload an unencrypted zip.")
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio:
            raise InputError(
                f"zip member {name!r} inflates {ratio:.0f}-fold (limit {limits.max_ratio:.0f}); the upload "
                "looks like a zip bomb and is refused."
            )
        total += info.file_size
    if total > limits.max_total_bytes:
        raise InputError(
            f"the zip inflates to {total / 2**20:.0f} MB, more than the limit of "
            f"{limits.max_total_bytes / 2**20:.0f} MB; the upload is refused."
        )


def _copy_member(
    handle: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, limits: ZipLimits
) -> None:
    """Copy one member, counting bytes: a header that lies about the size cannot inflate past it."""
    written = 0
    try:
        with handle.open(info) as source, open(destination, "wb") as sink:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                if written > info.file_size or written > limits.max_total_bytes:
                    raise InputError(
                        f"zip member {info.filename!r} inflates beyond the size its header states; "
                        "the upload is refused."
                    )
                sink.write(chunk)
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise CorruptFileError(
            f"zip member {info.filename!r} is damaged ({error}); re-create the zip."
        ) from error


class BodySizeLimit:
    """ASGI middleware: answer 413 (JSON) when a request body exceeds ``max_bytes``.

    The declared ``Content-Length`` is checked first; a body streamed without one (or longer than
    declared) is counted as it arrives and cut off at the limit.
    """

    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        responded = False

        async def counting_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLargeError
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal responded
            responded = responded or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLargeError:
            if not responded:
                await self._reject(send)

    async def _reject(self, send: Any) -> None:
        body = json.dumps(
            {
                "error": "InputError",
                "message": f"the upload is larger than the limit of {self.max_bytes / 2**20:g} MB; "
                "send a smaller file or start the server with a larger --max-upload-mb.",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLargeError(Exception):
    """Internal signal of :class:`BodySizeLimit` (never leaves the middleware)."""
