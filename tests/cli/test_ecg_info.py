"""`cardiopredict ecg info FILE`."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from cardiopredict.cli import app
from cardiopredict.ecg.io import write_ecg
from cardiopredict.ecg.leads import CANONICAL_LEADS
from cardiopredict.ecg.record import ECGRecord

runner = CliRunner()


def _record(tmp_path):
    t = np.arange(2500) / 500
    signal = np.vstack([np.sin(2 * np.pi * (k + 1) * t) * (k + 1) * 0.1 for k in range(12)]).astype(
        np.float32
    )
    signal[9] = 0.3  # a flat V4
    return write_ecg(ECGRecord(signal=signal, fs=500, leads=CANONICAL_LEADS), tmp_path / "ecg.csv")


def test_info_prints_format_fs_duration_leads_and_ranges(tmp_path):
    result = runner.invoke(app, ["ecg", "info", str(_record(tmp_path))])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "format:    csv" in out
    assert "fs:        500 Hz" in out
    assert "duration:  5.000 s (2500 samples)" in out
    assert "I II III aVR aVL aVF V1 V2 V3 V4 V5 V6" in out
    v6 = next(line for line in out.splitlines() if line.startswith("V6 "))
    assert v6.split()[1:4] == ["-1.200", "1.200", "2.400"]
    v4 = next(line for line in out.splitlines() if line.startswith("V4 "))
    assert v4.rstrip().endswith("flat")


def test_info_json(tmp_path):
    result = runner.invoke(app, ["ecg", "info", str(_record(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["fs_hz"] == 500.0 and summary["n_samples"] == 2500
    assert summary["leads"] == list(CANONICAL_LEADS)
    assert summary["amplitude_mv"]["V4"]["flags"] == ["flat"]
    assert abs(summary["amplitude_mv"]["I"]["max"] - 0.1) < 1e-3


def test_info_reports_errors_without_traceback(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("I,II\n" + "\n".join("0.1,0.2" for _ in range(10)))
    result = runner.invoke(app, ["ecg", "info", str(path)])
    assert result.exit_code == 2
    assert "SamplingRateError" in result.output and "fs=<Hz>" in result.output
    assert "Traceback" not in result.output


def test_info_hints_reach_the_reader(tmp_path):
    path = tmp_path / "plain.csv"
    rows = "\n".join(",".join(f"{0.1 * np.sin(i / 10 + k):.4f}" for k in range(8)) for i in range(600))
    path.write_text("I,II,V1,V2,V3,V4,V5,V6\n" + rows + "\n")
    result = runner.invoke(app, ["ecg", "info", str(path), "--fs", "250", "--units", "mV"])
    assert result.exit_code == 0, result.output
    assert "duration:  2.400 s (600 samples)" in result.output
    assert "derived from I and II: III, aVR, aVL, aVF" in result.output
