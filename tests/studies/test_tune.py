"""Nested-CV hyperparameter search: the search never sees the outer test fold; engine-schema outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from cardiopredict.config import StudyProfile
from cardiopredict.training.crossval import make_folds
from cardiopredict.training.executors import LocalExecutor

pytest.importorskip("optuna", reason="the search needs Optuna: pip install 'cardiopredict[ray]'")


class SpyExecutor(LocalExecutor):
    """The local executor, remembering every training it ran."""

    def __init__(self) -> None:
        super().__init__(threads=1)
        self.jobs = []

    def map(self, function, shared, items, *, labels, progress=False):
        self.jobs += list(items)
        return super().map(function, shared, items, labels=labels, progress=progress)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    from cardiopredict.cohort.synthetic import simulate_crt_cohort
    from cardiopredict.studies.crt import crt_spec
    from cardiopredict.studies.tune import tune_study

    tmp = tmp_path_factory.mktemp("tune")
    cohort = simulate_crt_cohort(tmp / "cohort", n=40, seed=5, format="csv")
    spy = SpyExecutor()
    profile = StudyProfile.quick(seed=2)
    metrics = tune_study(
        crt_spec(inputs=("pre",)),
        cohort,
        tmp / "run",
        profile=profile,
        n_trials=2,
        inner_folds=2,
        executor=spy,
    )
    return tmp / "run", metrics, spy


@pytest.mark.slow
def test_the_search_never_trains_or_scores_on_the_outer_test_fold(tuned) -> None:
    run, _, spy = tuned
    predictions = pd.read_csv(run / "predictions.csv", dtype={"patient_id": str})
    test_patients = {k: set(group["patient_id"]) for k, group in predictions.groupby("fold")}
    inner = [job for job in spy.jobs if "/trial" in job.request.key]
    outer = [job for job in spy.jobs if job.request.key.endswith("/chosen")]
    assert len(inner) == 2 * 2 * 2 and len(outer) == 2  # trials x outer folds x inner folds; one per outer
    for job in inner:
        k = int(job.request.key.split("/outer")[1].split("/")[0])
        assert not set(job.request.patient_ids) & test_patients[k], job.label
    for job in outer:
        request = job.request
        scored = {
            pid for pid, fold in zip(request.patient_ids, request.folds, strict=True) if fold == job.fold
        }
        assert scored == test_patients[job.fold]


@pytest.mark.slow
def test_outputs_follow_the_engine_schema_and_say_what_was_chosen(tuned) -> None:
    run, metrics, _ = tuned
    predictions = pd.read_csv(run / "predictions.csv", dtype={"patient_id": str})
    assert list(predictions.columns[:4]) == ["patient_id", "task", "fold", "y_true"]
    assert {"score_pre", "score_qrs150_lbbb", "score_clinical_logistic", "score_oracle"} <= set(predictions)
    assert predictions["score_pre"].between(0, 1).all()
    expected = make_folds(predictions["y_true"].to_numpy(), predictions["patient_id"], n_folds=2, seed=2)
    np.testing.assert_array_equal(predictions["fold"].to_numpy(), expected)  # the study's own outer folds
    chosen = json.loads((run / "chosen.json").read_text())
    assert [c["outer_fold"] for c in chosen] == [0, 1]
    assert set(chosen[0]["params"]) == {
        "learning_rate", "dropout_input", "dropout_hidden", "channels", "pooling", "max_epochs", "patience",
    }  # fmt: skip
    history = pd.read_csv(run / "search_history.csv")
    assert len(history) == 4 and set(history["state"]) <= {"complete", "fail"}
    for c in chosen:
        rows = history[(history["outer_fold"] == c["outer_fold"]) & (history["state"] == "complete")]
        assert c["inner_auc"] == pytest.approx(rows["inner_auc"].max())
    assert np.isfinite(metrics["models"]["pre"]["auc_pooled"])
    assert json.loads((run / "config.json").read_text())["tuning"]["n_trials"] == 2


def test_tune_command_refuses_an_unknown_study(tmp_path) -> None:
    from cardiopredict.cli.tune import tune

    app = typer.Typer()
    app.command("tune")(tune)
    manifest = tmp_path / "m.csv"
    manifest.write_text("patient_id\n")
    result = CliRunner().invoke(app, ["va", "--manifest", str(manifest), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "choose from crt, cardiomyopathy" in result.output
