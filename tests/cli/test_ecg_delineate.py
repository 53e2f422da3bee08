"""`cardiopredict ecg delineate | measure | plot FILE`."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from cardiopredict.cli import app
from cardiopredict.ecg.io import write_ecg
from tests.ecg.test_delineation import synthetic_ecg

runner = CliRunner()


def _file(tmp_path):
    record, onsets = synthetic_ecg(rr_ms=900.0)
    return write_ecg(record, tmp_path / "ecg.csv"), onsets


def test_delineate_json(tmp_path) -> None:
    path, onsets = _file(tmp_path)
    result = runner.invoke(app, ["ecg", "delineate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert len(out["qrs_onsets"]) == len(onsets) and out["fs"] == 500
    assert np.all(np.abs(np.array(out["qrs_onsets"]) - onsets) < 15)


def test_delineate_table(tmp_path) -> None:
    path, onsets = _file(tmp_path)
    result = runner.invoke(app, ["ecg", "delineate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{len(onsets)} beats" in result.output and "median QRS duration" in result.output


def test_measure(tmp_path) -> None:
    path, _ = _file(tmp_path)
    result = runner.invoke(app, ["ecg", "measure", str(path), "--sex", "F", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["sex"] == "F" and 60 <= out["heart_rate_bpm"] <= 70 and out["lbbb_aha"] is False


def test_plot_writes_png(tmp_path) -> None:
    path, _ = _file(tmp_path)
    png = tmp_path / "fig" / "ecg.png"
    result = runner.invoke(app, ["ecg", "plot", str(path), "--out", str(png)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_flat_file_is_a_clean_error(tmp_path) -> None:
    record, _ = synthetic_ecg()
    path = write_ecg(record.replace(signal=np.zeros_like(record.signal)), tmp_path / "flat.csv")
    result = runner.invoke(app, ["ecg", "delineate", str(path)])
    assert result.exit_code == 2
    assert "error:" in result.output and "flat" in result.output and "Traceback" not in result.output
