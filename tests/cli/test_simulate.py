"""`cardiopredict simulate crt|cardiomyopathy`."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from cardiopredict.cli import app

runner = CliRunner()


def test_simulate_crt_prints_manifest_and_oracle_auc(tmp_path):
    out = tmp_path / "crt"
    result = runner.invoke(
        app, ["simulate", "crt", "--n", "12", "--seed", "1", "--out", str(out), "--format", "csv", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert f"manifest: {out / 'manifest.csv'}" in result.output
    assert '"response":' in result.output
    assert "ECG oracle" not in result.output  # the CRT oracle has no ECG-only part
    assert len(pd.read_csv(out / "manifest.csv")) == 12
    again = runner.invoke(
        app, ["simulate", "crt", "--n", "12", "--out", str(out), "--format", "csv", "--quiet"]
    )
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_simulate_cardiomyopathy_and_bad_n(tmp_path):
    out = tmp_path / "cm"
    result = runner.invoke(
        app, ["simulate", "cardiomyopathy", "--n", "15", "--out", str(out), "--format", "csv", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert '"gen-vs-sarc":' in result.output and '"3class":' in result.output
    assert "ECG oracle AUC (what the ECG shows):" in result.output
    bad = runner.invoke(app, ["simulate", "crt", "--n", "3", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "at least 10" in bad.output
