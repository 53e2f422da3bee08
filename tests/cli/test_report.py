"""`cardiopredict report RUN_DIR`: metrics.json and report.html regenerated from predictions.csv alone."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from cardiopredict.cli import app

pytestmark = pytest.mark.xdist_group("crt")

runner = CliRunner()


def test_report_regenerates_metrics_and_report_identically(crt_run, tmp_path):
    run, metrics = crt_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    report_before = (copy / "report.html").read_bytes()
    for name in ("metrics.json", "report.html"):
        (copy / name).unlink()
    shutil.rmtree(copy / "models")  # nothing is retrained or reloaded
    result = runner.invoke(app, ["report", str(copy)])
    assert result.exit_code == 0, result.output
    assert json.loads((copy / "metrics.json").read_text()) == json.loads((run / "metrics.json").read_text())
    regenerated = json.loads((copy / "metrics.json").read_text())
    assert regenerated["models"]["combined"] == metrics["models"]["combined"]
    assert (copy / "report.html").read_bytes() == report_before


def test_report_refuses_a_folder_without_runs(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "neither a study run directory" in result.output
