"""`cardiopredict crt run`, `cardiomyopathy run` and `predict` as a user calls them."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from cardiopredict.cli import app
from cardiopredict.config import StudyProfile
from cardiopredict.errors import ConfigError

pytestmark = pytest.mark.xdist_group("crt")

runner = CliRunner()


def test_crt_run_quick_then_predict_new_patients(crt_cohort, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            *("crt", "run", "--manifest", str(crt_cohort), "--out", str(out)),
            *("--inputs", "pre", "--quick", "--learning-rate", "0.003"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "protocol: quick-lr0.003" in result.output and "pooled AUC" in result.output
    assert (out / "report.html").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["profile"] == "quick-lr0.003" and config["training"]["learning_rate"] == 0.003

    new = pd.read_csv(crt_cohort, dtype={"patient_id": str}).drop(columns=["response"]).head(3)
    new["ecg_pre"] = [str(crt_cohort.parent / p) for p in new["ecg_pre"]]
    new.drop(columns=["ecg_post"]).to_csv(tmp_path / "new.csv", index=False)
    scores = tmp_path / "scores.csv"
    result = runner.invoke(
        app,
        [
            "predict",
            "--model",
            str(out / "models" / "pre"),
            "--manifest",
            str(tmp_path / "new.csv"),
            "--out",
            str(scores),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "scored 3 patient(s), excluded 0" in result.output
    assert pd.read_csv(scores)["score"].between(0, 1).all()


def test_crt_run_reports_a_bad_manifest_without_a_traceback(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("patient_id,response,ecg_pre\np1,1,missing.csv\np1,0,missing.csv\n")
    result = runner.invoke(app, ["crt", "run", "--manifest", str(manifest), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "p1" in result.output  # the duplicate patient is named


def test_cardiomyopathy_run_refuses_an_unknown_task(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("patient_id,diagnosis,ecg\n")
    result = runner.invoke(
        app,
        [
            "cardiomyopathy",
            "run",
            "--manifest",
            str(manifest),
            "--out",
            str(tmp_path / "o"),
            "--tasks",
            "gen-vs-dcm",
        ],
    )
    assert result.exit_code != 0
    assert "gen-vs-dcm" in result.output


def test_a_learning_rate_other_than_the_protocols_renames_it():
    paper = StudyProfile.paper(seed=3)
    assert paper.with_learning_rate(None) is paper and not paper.learning_rate_fixed
    same = paper.with_learning_rate(1e-4)
    assert same.name == "paper" and same.training == paper.training and same.learning_rate_fixed
    faster = paper.with_learning_rate(1e-3)
    assert faster.name == "paper-lr0.001" and faster.training.learning_rate == 1e-3
    assert faster.training.seed == 3 and faster.training.max_epochs == paper.training.max_epochs
    with pytest.raises(ConfigError, match="learning_rate"):
        paper.with_learning_rate(2.0)
