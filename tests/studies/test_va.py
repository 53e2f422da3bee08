"""The VA study end to end on a tiny synthetic LGE cohort, its bad-input exclusions, and predict."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pydicom
import pytest
from typer.testing import CliRunner

from cardiopredict.cli import app
from cardiopredict.config import LGEInputConfig, StudyProfile
from cardiopredict.errors import ModelFileError
from cardiopredict.studies.predict import predict_manifest
from cardiopredict.studies.va import POLAR_LEARNING_RATE, model_spec, run_va_study

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("va")]


@pytest.fixture(scope="module")
def va_cohort(tmp_path_factory):
    from cardiopredict.cohort.va import simulate_va_cohort

    return simulate_va_cohort(tmp_path_factory.mktemp("va") / "cohort", n=24, seed=5)


@pytest.fixture(scope="module")
def va_run(va_cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("va_run") / "run"
    models = ("scarnet", "scarnet_polar")
    quick = StudyProfile.quick(seed=0)
    profile = replace(quick, training=replace(quick.training, learning_rate=5e-3))  # != the polar's own
    return out, run_va_study(va_cohort, out, models=models, profile=profile)


def test_run_writes_the_engine_outputs_with_table2_and_survival(va_run, va_cohort):
    out, metrics = va_run
    predictions = pd.read_csv(out / "predictions.csv", dtype={"patient_id": str})
    assert set(predictions["task"]) == {"va_event"} and predictions["patient_id"].is_unique
    expected = {
        "score_scarnet",
        "score_lvef35",
        "score_lvef_logistic",
        "score_scar_logistic",
        "score_scar_cox",
    }
    assert expected | {"score_oracle", "time_days", "event"} <= set(predictions.columns)
    manifest = pd.read_csv(va_cohort, dtype={"patient_id": str}).set_index("patient_id")
    rule = (manifest.loc[predictions["patient_id"], "lvef"].to_numpy() <= 35).astype(float)
    np.testing.assert_array_equal(predictions["score_lvef35"].to_numpy(), rule)
    assert set(metrics["baselines"]) == {"lvef35", "lvef_logistic", "scar_logistic", "scar_cox"}
    assert "scarnet_vs_lvef35" in metrics["delong"] and "scarnet_vs_scar_logistic" in metrics["delong"]
    assert len(metrics["table2"]["scarnet"]["fold_auc"]) == 2
    assert (
        0.0 <= metrics["models"]["scarnet_polar"]["auc_pooled"] <= 1.0
        and "score_scarnet_polar" in predictions
    )
    assert set(metrics["survival"]["c_index"]) >= {"scarnet", "lvef35", "scar_cox", "oracle"}
    assert 0.0 <= metrics["survival"]["c_index"]["oracle"] <= 1.0
    assert metrics["oracle_auc"] is not None and metrics["synthetic"] is True
    model = json.loads((out / "models" / "scarnet" / "model.json").read_text())
    assert model["lge_preprocessing"]["scar_method"]["name"] == "nsd"
    assert len(list((out / "figures" / "waveforms_scarnet").glob("*.png"))) == 6
    html = (out / "report.html").read_text()
    assert "Table 2" in html and "C-index" in html and "SYNTHETIC" in html.upper()
    run = json.loads((out / "config.json").read_text())["run"]
    assert run["learning_rate_by_model"] == {"scarnet": 5e-3, "scarnet_polar": POLAR_LEARNING_RATE}
    assert model["training"]["learning_rate"] == 5e-3
    assert "training.learning_rate (scarnet_polar)" in html


def test_the_polar_network_brings_its_learning_rate_unless_the_run_sets_one():
    config = LGEInputConfig()
    paper = StudyProfile.paper()
    polar, ordered = model_spec("scarnet_polar", config), model_spec("scarnet", config)
    assert paper.training_for(polar.learning_rate).learning_rate == POLAR_LEARNING_RATE
    assert paper.training_for(ordered.learning_rate) is paper.training
    for chosen in (1e-4, 3e-4):
        fixed = paper.with_learning_rate(chosen)
        assert fixed.training_for(polar.learning_rate).learning_rate == chosen
    assert paper.with_learning_rate(1e-4).name == "paper"


def test_predict_scores_new_lge_patients_and_refuses_other_preprocessing(va_run, va_cohort, tmp_path):
    out, _ = va_run
    table = pd.read_csv(va_cohort).drop(columns=["va_event", "time_to_event_days", "event"]).head(3)
    for column in ("lge", "contours"):
        table[column] = [str(va_cohort.parent / p) for p in table[column]]
    table.loc[2, "lge"] = str(tmp_path / "missing")
    table.to_csv(tmp_path / "new.csv", index=False)
    scores = predict_manifest(out / "models" / "scarnet", tmp_path / "new.csv")
    assert list(scores["status"]) == ["scored", "scored", "excluded"]
    assert scores["score"].iloc[:2].between(0, 1).all() and "lge" in scores["reason"].iloc[2]
    polar = predict_manifest(out / "models" / "scarnet_polar", tmp_path / "new.csv")
    assert list(polar["status"]) == ["scored", "scored", "excluded"]
    assert polar["score"].iloc[:2].between(0, 1).all()
    polar_model = json.loads((out / "models" / "scarnet_polar" / "model.json").read_text())
    assert polar_model["model"] == "scarnet" and polar_model["model_kwargs"]["representation"] == "polar"
    assert polar_model["training"]["learning_rate"] == POLAR_LEARNING_RATE
    model_json = out / "models" / "scarnet" / "model.json"
    copy = tmp_path / "model"
    shutil.copytree(model_json.parent, copy)
    config = json.loads((copy / "model.json").read_text())
    config["lge_preprocessing"]["scar_method"]["name"] = "fwhm"
    (copy / "model.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="preprocessing differs from training"):
        predict_manifest(copy, tmp_path / "new.csv")


def _bad_cohort(va_cohort, tmp_path):
    """A copy of the cohort with one bad patient per kind of bad input."""
    cohort = tmp_path / "cohort"
    shutil.copytree(va_cohort.parent, cohort)
    manifest = pd.read_csv(cohort / "manifest.csv", dtype={"patient_id": str})
    manifest["lvef"] = manifest["lvef"].astype(float)
    manifest.loc[0, "lvef"] = np.nan
    manifest["time_to_event_days"] = manifest["time_to_event_days"].astype(float)
    manifest.loc[1, "time_to_event_days"] = np.nan
    series = sorted((cohort / manifest.loc[2, "lge"]).glob("*.dcm"))
    series[0].write_bytes(series[0].read_bytes()[:300])  # truncated file
    for path in sorted((cohort / manifest.loc[3, "lge"]).glob("*.dcm"))[2:]:
        path.unlink()  # two slices left
    mixed = sorted((cohort / manifest.loc[4, "lge"]).glob("*.dcm"))[1]
    dataset = pydicom.dcmread(mixed)
    dataset.PixelSpacing = [2.5, 2.5]
    dataset.save_as(mixed)  # one slice with another spacing
    contours = json.loads((cohort / manifest.loc[5, "contours"]).read_text())
    contours["slices"][0]["epicardium"] = [[x * 50, y * 50] for x, y in contours["slices"][0]["epicardium"]]
    (cohort / manifest.loc[5, "contours"]).write_text(json.dumps(contours))
    manifest.to_csv(cohort / "manifest.csv", index=False)
    return cohort / "manifest.csv", manifest


def test_bad_patients_are_excluded_with_their_reason_and_the_cohort_goes_on(va_cohort, tmp_path):
    path, manifest = _bad_cohort(va_cohort, tmp_path)
    metrics = run_va_study(path, tmp_path / "run", profile=StudyProfile.quick(seed=1), figures=False)
    cohort = pd.read_csv(tmp_path / "run" / "cohort.csv", dtype={"patient_id": str}, keep_default_na=False)
    reasons = dict(zip(cohort["patient_id"], cohort["reason"], strict=True))
    pid = manifest["patient_id"]
    assert reasons[pid[0]].startswith("lvef: missing")
    assert "event given without time_to_event_days" in reasons[pid[1]]
    assert reasons[pid[2]].startswith("lge: ")
    assert reasons[pid[3]].startswith("lge: ") and "slice" in reasons[pid[3]]
    assert reasons[pid[4]].startswith("lge: ") and "spacing" in reasons[pid[4]].lower()
    assert reasons[pid[5]].startswith("lge: ")
    assert metrics["n_excluded"] == 6 and metrics["n_patients"] == len(manifest) - 6
    assert cohort.loc[cohort["included"].astype(str) == "True", "reason"].eq("").all()
    assert not any(str(tmp_path) in reason for reason in reasons.values())  # no file paths in reasons


def test_cli_va_run_quick(va_cohort, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "va",
            "run",
            "--manifest",
            str(va_cohort),
            "--out",
            str(tmp_path / "run"),
            "--quick",
            "--scar",
            "fwhm",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "lvef35" in result.output and "C-index" in result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["lge_preprocessing"]["scar_method"]["name"] == "fwhm"


def test_orientation_off_keeps_the_acquired_orientation(va_cohort, tmp_path):
    from cardiopredict.features import build_lge_inputs

    table = pd.read_csv(va_cohort, dtype={"patient_id": str}).head(2)
    for column in ("lge", "contours"):
        table[column] = [str(va_cohort.parent / p) for p in table[column]]
    oriented = build_lge_inputs(table, config=LGEInputConfig(), cache_dir=None)
    kept = build_lge_inputs(table, config=LGEInputConfig(orient=False), cache_dir=None)
    assert not np.array_equal(oriented.arrays["lge.slices"], kept.arrays["lge.slices"])
    assert kept.arrays["lge.slices"].shape == oriented.arrays["lge.slices"].shape


def _scar_model(folder, patients):
    import torch

    from cardiopredict.cmr.learned import build_scar_network, save_scar_model

    torch.manual_seed(0)
    tiny = {"channels": [4, 8], "num_res_units": 1}
    network = build_scar_network("unet", **tiny)
    training_data = {"sha256": "0" * 64, "patients": list(patients)}
    return save_scar_model(network, folder, arch="unet", network_kwargs=tiny, training_data=training_data)


def test_a_scar_model_trained_on_the_cohorts_own_patients_is_refused(va_cohort, tmp_path):
    from cardiopredict.errors import LeakageError
    from cardiopredict.features import build_lge_inputs

    table = pd.read_csv(va_cohort, dtype={"patient_id": str})
    seen = _scar_model(tmp_path / "seen", ["other-1", *table["patient_id"][:7]])
    with pytest.raises(LeakageError, match=r"trained on 7 of this cohort's patients \(.+ and 2 more\)"):
        run_va_study(
            va_cohort, tmp_path / "run", config=LGEInputConfig(scar=f"learned:{seen}"), figures=False
        )
    assert not (tmp_path / "run" / "metrics.json").exists()
    two = table.head(2).copy()
    for column in ("lge", "contours"):
        two[column] = [str(va_cohort.parent / p) for p in two[column]]
    config = LGEInputConfig(scar=f"learned:{seen}")
    scored = build_lge_inputs(two, config=config, cache_dir=None)  # scoring, not evaluating: allowed
    assert len(scored.patient_ids) == 2
    other = _scar_model(tmp_path / "other", ["other-1", "other-2"])
    inputs = build_lge_inputs(
        two, config=LGEInputConfig(scar=f"learned:{other}"), cache_dir=None, evaluation=True
    )
    assert len(inputs.patient_ids) == 2
