import numpy as np
import pandas as pd
import pytest

from cardiopredict.config import StudyProfile
from cardiopredict.studies.cardiomyopathy import run_cardiomyopathy_study, task_classes

pytestmark = pytest.mark.xdist_group("cardiomyopathy")


def test_task_classes():
    assert task_classes("gen-vs-sarc") == ("GEN", "SARC")
    assert task_classes("3class") == ("GEN", "MYO", "SARC")


def test_pairwise_and_multiclass_run(cm_cohort, tmp_path):
    out = tmp_path / "run"
    metrics = run_cardiomyopathy_study(
        cm_cohort, out, tasks=["gen-vs-myo", "3class"], inputs=["qrs", "rr"], profile=StudyProfile.quick()
    )
    predictions = pd.read_csv(out / "predictions.csv", dtype={"patient_id": str})
    manifest = pd.read_csv(cm_cohort, dtype={"patient_id": str}).set_index("patient_id")
    # A pairwise task holds only the patients of its two classes, each once, GEN as the positive class.
    task = predictions[predictions["task"] == "gen-vs-myo"]
    assert task["patient_id"].is_unique
    diagnosis = manifest.loc[task["patient_id"], "diagnosis"].to_numpy()
    assert set(diagnosis) <= {"GEN", "MYO"}
    np.testing.assert_array_equal(task["y_true"].to_numpy(), (diagnosis == "GEN").astype(int))
    assert {"qrs", "rr"} == set(metrics["table3"]["gen-vs-myo"])
    block = metrics["table3"]["gen-vs-myo"]["rr"]
    assert {"folds", "auc_mean", "auc_sd", "auc_pooled", "auc_ci95"} <= set(block)
    assert "rr_vs_clinical_logistic" in metrics["delong"]["gen-vs-myo"]
    multiclass = metrics["multiclass"]["qrs"]
    assert np.asarray(multiclass["confusion_matrix"]).sum() == (predictions["task"] == "3class").sum()
    assert not (out / "predictions_3class.csv").exists()  # one predictions.csv for every task
    assert (out / "report.html").is_file()
    assert "gen-vs-myo" in metrics["oracle_auc"]
    # the ECG oracle (what the simulated ECG shows) is reported beside the all-trait oracle
    assert set(metrics["oracle_ecg_auc"]) == set(metrics["oracle_auc"])
    assert {"oracle", "oracle_ecg"} <= set(metrics["multiclass"])
    report = (out / "report.html").read_text()
    assert "ECG oracle AUC" in report
    assert f"{metrics['oracle_ecg_auc']['gen-vs-myo']:.3f}" in report
