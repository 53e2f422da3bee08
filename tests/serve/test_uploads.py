"""Upload handling: neutral file names and zip extraction that refuses bombs and escaping names."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from cardiopredict.errors import CorruptFileError, InputError
from cardiopredict.serve import ZipLimits, extract_zip_safely
from cardiopredict.serve._uploads import upload_name


@pytest.mark.parametrize(
    ("client_name", "stored"),
    [
        ("Doe_Jane 2024.xml", "pre.xml"),
        ("C:\\exports\\Smith John.CSV", "pre.csv"),
        ("../../etc/passwd", "pre"),
        ("record.hea.gz", "pre.hea.gz"),
        ("weird.<script>", "pre"),
        (None, "pre"),
    ],
)
def test_upload_name_keeps_only_a_plain_suffix(client_name, stored):
    assert upload_name("pre", client_name) == stored


def _zip(path: Path, members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_plain_zip_is_extracted_inside_the_folder(tmp_path):
    archive = _zip(tmp_path / "lge.zip", {"series/slice1.dcm": os.urandom(2000), "contours.json": b"{}"})
    target = tmp_path / "out"
    target.mkdir()
    written = extract_zip_safely(archive, target)
    assert sorted(p.relative_to(target.resolve()).as_posix() for p in written) == [
        "contours.json",
        "series/slice1.dcm",
    ]


@pytest.mark.parametrize("name", ["../escape.txt", "series/../../escape.txt", "/etc/evil", "C:/evil.txt"])
def test_names_escaping_the_folder_are_refused(tmp_path, name):
    archive = _zip(tmp_path / "bad.zip", {"ok.txt": b"fine", name: b"evil"})
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(InputError, match="outside the zip's folder"):
        extract_zip_safely(archive, target)
    assert list(target.iterdir()) == []  # checked before anything is written
    assert not (tmp_path / "escape.txt").exists()


def test_a_symlink_member_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr(info, "/etc/passwd")
    with pytest.raises(InputError, match="link or special file"):
        extract_zip_safely(archive, tmp_path)


def test_a_zip_bomb_is_refused_before_inflating(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(20 * 2**20)})
    assert archive.stat().st_size < 100_000
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(InputError, match="zip bomb"):
        extract_zip_safely(archive, target)
    assert list(target.iterdir()) == []


def test_total_size_and_member_count_limits(tmp_path):
    archive = _zip(tmp_path / "big.zip", {f"f{k}.bin": os.urandom(4000) for k in range(3)})
    with pytest.raises(InputError, match="inflates to"):
        extract_zip_safely(archive, tmp_path, limits=ZipLimits(max_total_bytes=10_000))
    with pytest.raises(InputError, match="more than the limit of 2"):
        extract_zip_safely(archive, tmp_path, limits=ZipLimits(max_members=2))


def test_a_member_larger_than_its_header_says_is_cut_off(tmp_path):
    archive = _zip(tmp_path / "liar.zip", {"data.bin": os.urandom(5000)}, compression=zipfile.ZIP_STORED)
    raw = bytearray(archive.read_bytes())
    central = raw.rfind(b"PK\x01\x02")  # central directory entry: uncompressed size at offset 24
    raw[central + 24 : central + 28] = (1000).to_bytes(4, "little")
    archive.write_bytes(bytes(raw))
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises((InputError, CorruptFileError)):
        extract_zip_safely(archive, target)


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(CorruptFileError, match="not a readable zip"):
        extract_zip_safely(path, tmp_path)
