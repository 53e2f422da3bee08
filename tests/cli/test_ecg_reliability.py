"""`cardiopredict ecg ...` on degraded input: strict JSON, warnings, not-assessable lines, capped plots."""

from __future__ import annotations

import json
import struct

from typer.testing import CliRunner

from cardiopredict.cli import app
from cardiopredict.ecg.io import write_ecg
from tests.ecg.test_delineation import synthetic_ecg

runner = CliRunner()


def _strict(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"bare {constant} in JSON output")

    return json.loads(text, parse_constant=refuse)


def test_measure_json_is_strict_and_marks_degraded_leads(tmp_path) -> None:
    record, _ = synthetic_ecg(pr_ms=None)  # no P waves: the PR interval is NaN
    signal = record.signal.copy()
    signal[6:12] = 0.0
    path = write_ecg(record.replace(signal=signal), tmp_path / "flat_v.csv")
    result = runner.invoke(app, ["ecg", "measure", str(path), "--json"])
    assert result.exit_code == 0, result.output
    values = _strict(result.output)
    assert values["pr_interval_ms"] is None and values["lbbb_aha"] is None
    assert "V1 (flat)" in values["not_assessable"]["lbbb_aha"]
    table = runner.invoke(app, ["ecg", "measure", str(path)])
    assert "lbbb_aha           not assessable: degraded lead(s)" in table.output
    assert "degraded leads:    V1 (flat)" in table.output


def test_implausible_rate_is_warned_on_stderr_and_in_json(tmp_path) -> None:
    record, _ = synthetic_ecg(fs=1000.0, rr_ms=900.0)
    path = write_ecg(record.replace(fs=250.0), tmp_path / "wrong_fs.csv")  # 1000 Hz data stated as 250
    result = runner.invoke(app, ["ecg", "info", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr and "median RR interval is 3600 ms" in result.stderr
    assert "record:    fs_implausible" in result.stdout
    summary = _strict(runner.invoke(app, ["ecg", "info", str(path), "--json"]).stdout)
    assert summary["record_flags"] == ["fs_implausible"] and summary["warnings"]


def _png_size(path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_long_record_plot_is_capped_to_ten_seconds(tmp_path) -> None:
    record, _ = synthetic_ecg(duration_s=25.0)
    path = write_ecg(record, tmp_path / "long.csv")
    out = tmp_path / "long.png"
    result = runner.invoke(app, ["ecg", "plot", str(path), "--out", str(out), "--start", "10"])
    assert result.exit_code == 0, result.output
    assert "(10.0 s of 25.0 s from 10 s)" in result.output
    width, _ = _png_size(out)
    assert width <= 1.6 * 10 * 110 + 1  # one 10-s page at the default dpi, not 25 s wide
