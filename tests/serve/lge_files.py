"""Zips of LGE series for the upload tests."""

from __future__ import annotations

from pathlib import Path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip (deflated) holding ``members`` (name -> content)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def series_members(series: Path, contours: Path | None) -> dict[str, bytes]:
    """Zip members of one patient: ``series/IM_*.dcm`` and ``contours.json`` (when given)."""
    members = {f"series/{path.name}": path.read_bytes() for path in sorted(series.iterdir())}
    if contours is not None:
        members["contours.json"] = contours.read_bytes()
    return members
