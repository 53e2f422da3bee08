"""VA (LGE) models in the service: a zip of the series + contours in, the fold ensemble's probability,
the LVEF rule, the slices used and their figure out; every bad zip a named 4xx."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.serve.lge_files import series_members, zip_bytes

pytestmark = pytest.mark.xdist_group("serve")

PREDICT = "/api/v1/models/va-scarnet/predict"


@pytest.fixture(scope="module")
def va_answer(va_client, va_zip) -> dict:
    response = va_client.post(PREDICT, files={"lge": ("study.zip", va_zip)}, data={"lvef": "30"})
    assert response.status_code == 200, response.text
    return response.json()


def _assert_error(response, status: int, error: str, *words: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    for word in words:
        assert word in body["message"], body["message"]
    assert "/tmp" not in body["message"] and "cardiopredict-upload" not in body["message"]
    return body


def test_the_va_model_is_listed_with_its_lge_input(va_client, va_model_dir):
    response = va_client.get("/api/v1/models")
    assert str(va_model_dir) not in response.text and "va00" not in response.text  # no paths, no patients
    models = {m["name"]: m for m in response.json()["models"]}
    va = models["va-scarnet"]
    assert va["available"] and va["study"] == "va"
    assert va["inputs"] == [
        {"field": "lge", "kind": "lge_zip", "description": va["inputs"][0]["description"], "required": True}
    ]
    assert va["preprocessing"]["lge"]["scar_method"]["name"] == "nsd"
    assert va["card"]["training_cohort"] == {"n_patients": 16, "n_excluded": 0, "synthetic": True}
    assert va["card"]["rule_auc"]["name"] == "lvef35"


def test_va_prediction_is_what_predict_gives_with_the_lvef_rule_beside(
    va_answer, va_patient, va_model_dir, tmp_path
):
    from cardiopredict.studies.predict import predict_manifest

    series, contours = va_patient
    manifest = tmp_path / "one.csv"
    pd.DataFrame([{"patient_id": "p", "lge": str(series), "contours": str(contours)}]).to_csv(
        manifest, index=False
    )
    expected = float(predict_manifest(va_model_dir, manifest)["score"].iloc[0])
    prediction = va_answer["prediction"]
    assert prediction["probability"] == pytest.approx(expected, abs=1e-6)
    assert np.mean(prediction["fold_probabilities"]) == pytest.approx(expected, abs=1e-6)
    assert prediction["spread"]["min"] <= prediction["probability"] <= prediction["spread"]["max"]
    assert len(prediction["fold_probabilities"]) == 2
    rule = va_answer["rule"]
    assert rule["applicable"] and rule["positive"] is True and rule["inputs"] == {"lvef_percent": 30.0}
    assert va_answer["agreement"] == (prediction["positive"] is True)
    lge = va_answer["measurements"]["lge"]
    assert 3 <= lge["n_slices"] <= 10 and lge["myocardium_mass_g"] > 0 and 0 <= lge["scar_pct"] <= 100
    assert va_answer["measurements"]["lvef_percent"] == 30.0
    assert va_answer["quality"]["lge"]["n_slices"] == lge["n_slices"]
    assert va_answer["quality"]["lge"]["scar_method"] == "nsd"
    assert any("SYNTHETIC" in w for w in va_answer["warnings"])


def test_va_figure_is_a_png_of_the_slices(va_client, va_answer):
    assert set(va_answer["figures"]) == {"slices"}
    response = va_client.get(va_answer["figures"]["slices"])
    assert response.status_code == 200 and response.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_lvef_the_rule_says_why(va_client, va_zip):
    body = va_client.post(PREDICT, files={"lge": ("study.zip", va_zip)}).json()
    assert body["rule"] == {
        "name": "LVEF <= 35 %",
        "applicable": False,
        "positive": None,
        "reason": "no LVEF given",
    }
    assert body["agreement"] is None


def test_nothing_from_dicom_headers_or_names_is_returned(va_client, va_patient, tmp_path):
    import pydicom

    series, contours = va_patient
    named = tmp_path / "Doe_Jane"
    named.mkdir()
    for path in sorted(series.iterdir()):
        dataset = pydicom.dcmread(path)
        dataset.PatientName, dataset.PatientID = "Doe^Jane", "MRN778899"
        dataset.save_as(named / path.name)
    members = {f"Doe_Jane/{p.name}": p.read_bytes() for p in sorted(named.iterdir())}
    members["Doe_Jane_contours.json"] = contours.read_bytes()
    response = va_client.post(PREDICT, files={"lge": ("Doe_Jane.zip", zip_bytes(members))})
    assert response.status_code == 200, response.text
    for secret in ("Jane", "Doe", "MRN778899", "va0001"):
        assert secret not in response.text


def _fewer_slices(contours: Path, keep: int) -> bytes:
    """The contour file with the contours of only ``keep`` slices (the others lose their myocardium)."""
    document = json.loads(contours.read_text())
    document["slices"] = document["slices"][:keep]
    return json.dumps(document).encode()


def test_bad_zips_get_named_4xx(va_client, va_patient, upload_root):
    series, contours = va_patient

    def post(content: bytes):
        return va_client.post(PREDICT, files={"lge": ("study.zip", content)})

    _assert_error(post(b"PK\x03\x04 not really a zip"), 422, "CorruptFileError", "not a readable zip")
    _assert_error(post(zip_bytes({"../evil.dcm": b"x"})), 422, "InputError", "outside the zip")
    _assert_error(post(zip_bytes({})), 422, "InputError", "lge zip is empty")
    _assert_error(post(zip_bytes(series_members(series, None))), 422, "InputError", "no contours")
    two = {**series_members(series, contours), "other.json": contours.read_bytes()}
    _assert_error(post(zip_bytes(two)), 422, "InputError", "2 contour files")
    few = {**series_members(series, None), "contours.json": _fewer_slices(contours, 2)}
    body = _assert_error(post(zip_bytes(few)), 422, "InputError", "lge upload cannot be scored")
    assert "slice" in body["message"]
    junk = {"series/IM_0001.dcm": b"not dicom", "contours.json": contours.read_bytes()}
    response = post(zip_bytes(junk))
    assert response.status_code == 422 and response.json()["error"].endswith("Error")
    _assert_error(
        va_client.post(PREDICT, files={"pre": ("pre.csv", b"1")}), 422, "InputError", "missing ['lge']"
    )
    assert list(upload_root.iterdir()) == []
