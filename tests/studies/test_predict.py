import json

import pandas as pd
import pytest

from cardiopredict.errors import ModelFileError
from cardiopredict.studies.predict import predict_manifest

pytestmark = pytest.mark.xdist_group("crt")


def test_predict_scores_new_patients_with_the_fold_ensemble(crt_run, crt_cohort, tmp_path):
    out, _ = crt_run
    new = pd.read_csv(crt_cohort, dtype={"patient_id": str}).drop(columns=["response"]).head(5)
    for column in ("ecg_pre", "ecg_post"):
        new[column] = [str(crt_cohort.parent / p) for p in new[column]]
    new.to_csv(tmp_path / "new.csv", index=False)
    scores = predict_manifest(out / "models" / "combined", tmp_path / "new.csv", tmp_path / "scores.csv")
    assert list(scores["patient_id"]) == list(new["patient_id"])
    assert (scores["status"] == "scored").all()
    assert scores["score"].between(0, 1).all()
    assert (tmp_path / "scores.csv").is_file()


def test_predict_refuses_a_model_built_with_other_preprocessing(crt_run, crt_cohort, tmp_path):
    out, _ = crt_run
    model = tmp_path / "model"
    model.mkdir()
    for path in (out / "models" / "pre").iterdir():
        (model / path.name).write_bytes(path.read_bytes())
    config = json.loads((model / "model.json").read_text())
    config["feature_version"] = 999
    (model / "model.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="preprocessing differs"):
        predict_manifest(model, crt_cohort)
