import json
import shutil

import numpy as np
import pandas as pd
import pytest

from cardiopredict.config import StudyProfile
from cardiopredict.errors import ConfigError, InsufficientDataError
from cardiopredict.evaluation.run import evaluate_run
from cardiopredict.studies.crt import run_crt_study

pytestmark = pytest.mark.xdist_group("crt")


def test_run_directory_follows_the_design_contract(crt_run, crt_cohort):
    out, metrics = crt_run
    for name in ("config.json", "cohort.csv", "predictions.csv", "metrics.json", "report.html"):
        assert (out / name).is_file(), name
    for mode in ("pre", "post", "combined"):
        assert (out / "models" / mode / "model.json").is_file()
        assert sorted(p.name for p in (out / "models" / mode).glob("fold*.safetensors")) == [
            "fold0.safetensors",
            "fold1.safetensors",
        ]
        assert (out / "curves" / f"{mode}.csv").is_file()
    predictions = pd.read_csv(out / "predictions.csv", dtype={"patient_id": str})
    manifest = pd.read_csv(crt_cohort, dtype={"patient_id": str})
    assert predictions["patient_id"].is_unique
    assert set(predictions["patient_id"]) <= set(manifest["patient_id"])
    expected = {
        f"score_{m}" for m in ("pre", "post", "combined", "qrs150_lbbb", "clinical_logistic", "fpca_logistic")
    }
    assert expected <= set(predictions.columns)
    assert set(predictions["fold"]) == {0, 1}
    probabilities = predictions[["score_pre", "score_post", "score_combined"]].to_numpy()
    assert np.isfinite(probabilities).all() and (probabilities >= 0).all() and (probabilities <= 1).all()
    assert set(metrics["models"]) == {"pre", "post", "combined"}
    assert set(metrics["baselines"]) == {"qrs150_lbbb", "clinical_logistic", "fpca_logistic"}
    assert "combined_vs_qrs150_lbbb" in metrics["delong"]
    assert 0.5 <= metrics["oracle_auc"] <= 1.0
    assert metrics["profile"] == "quick" and metrics["synthetic"] is True
    config = json.loads((out / "config.json").read_text())
    assert config["synthetic"] is True and config["training"]["n_folds"] == 2
    assert "SYNTHETIC" in (out / "report.html").read_text().upper()


def test_metrics_can_be_recomputed_from_predictions_alone(crt_run):
    out, metrics = crt_run
    again = evaluate_run(out)
    for mode in ("pre", "post", "combined"):
        assert again["models"][mode]["auc_pooled"] == pytest.approx(metrics["models"][mode]["auc_pooled"])
    assert again == json.loads((out / "metrics.json").read_text())


def test_every_manifest_patient_is_in_cohort_csv(crt_run, crt_cohort):
    out, _ = crt_run
    cohort = pd.read_csv(out / "cohort.csv", dtype={"patient_id": str}, keep_default_na=False)
    manifest = pd.read_csv(crt_cohort, dtype={"patient_id": str})
    assert sorted(cohort["patient_id"]) == sorted(manifest["patient_id"])


def test_unreadable_ecg_is_excluded_with_its_reason(crt_cohort, tmp_path):
    cohort = tmp_path / "cohort"
    shutil.copytree(crt_cohort.parent, cohort)
    manifest = pd.read_csv(cohort / "manifest.csv", dtype={"patient_id": str})
    victim = manifest.loc[0, "patient_id"]
    # Clinics name files after patients: the reason must not repeat the file name.
    manifest.loc[0, "ecg_post"] = "ecg/DOE_JANE_1957.csv"
    manifest.to_csv(cohort / "manifest.csv", index=False)
    (cohort / "ecg" / "DOE_JANE_1957.csv").write_text("this is not an ECG\n1,2\n")
    metrics = run_crt_study(
        cohort / "manifest.csv",
        tmp_path / "run",
        inputs=["combined"],
        profile=StudyProfile.quick(),
        figures=False,
    )
    table = pd.read_csv(tmp_path / "run" / "cohort.csv", dtype={"patient_id": str}, keep_default_na=False)
    row = table.set_index("patient_id").loc[victim]
    assert not row["included"] and row["reason"].startswith("ecg_post:")
    assert "DOE_JANE" not in (tmp_path / "run" / "cohort.csv").read_text()
    assert metrics["n_excluded"] == 1
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv", dtype={"patient_id": str})
    assert victim not in set(predictions["patient_id"])


def test_single_class_cohort_stops_before_training(crt_cohort, tmp_path):
    cohort = tmp_path / "cohort"
    shutil.copytree(crt_cohort.parent, cohort)
    manifest = pd.read_csv(cohort / "manifest.csv", dtype={"patient_id": str})
    manifest["response"] = 1
    manifest.to_csv(cohort / "manifest.csv", index=False)
    with pytest.raises(InsufficientDataError, match="0 non-responder"):
        run_crt_study(cohort / "manifest.csv", tmp_path / "run", inputs=["pre"], profile=StudyProfile.quick())


def test_unknown_input_mode_is_refused(crt_cohort, tmp_path):
    with pytest.raises(ConfigError, match="pre, post, combined"):
        run_crt_study(crt_cohort, tmp_path / "run", inputs=["preop"])


def test_rerun_reuses_finished_trainings_and_retrains_unfinished(crt_cohort, tmp_path):
    run = tmp_path / "run"
    kwargs = {"inputs": ["pre", "post"], "profile": StudyProfile.quick(), "figures": False}
    first = run_crt_study(crt_cohort, run, **kwargs)
    assert first["reused_trainings"] == []
    before = pd.read_csv(run / "predictions.csv", dtype={"patient_id": str})
    (run / "cv" / "post.npz").unlink()  # as if the run was killed while training "post"
    second = run_crt_study(crt_cohort, run, **kwargs)
    assert second["reused_trainings"] == ["pre"]
    after = pd.read_csv(run / "predictions.csv", dtype={"patient_id": str})
    pd.testing.assert_frame_equal(before, after)  # seeded: retraining "post" gives the same scores
    fresh = run_crt_study(crt_cohort, run, resume=False, **kwargs)
    assert fresh["reused_trainings"] == []
