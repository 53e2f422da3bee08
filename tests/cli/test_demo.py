"""`cardiopredict demo --quick`: both ECG studies end to end on tiny synthetic cohorts, one report."""

from __future__ import annotations

from typer.testing import CliRunner

from cardiopredict.cli import app


def test_demo_quick_runs_both_studies_and_writes_one_report(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "oracle: AUC" in result.output  # the CRT oracle
    for task in ("gen-vs-myo", "gen-vs-sarc", "myo-vs-sarc"):
        line = next(line for line in result.output.splitlines() if line.strip().startswith(f"{task}:"))
        assert "ECG oracle" in line and "rr" in line and "qrs" in line
    report = (tmp_path / "demo" / "report.html").read_text()
    assert "SYNTHETIC" in report
