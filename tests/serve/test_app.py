"""The API through FastAPI's test client: every endpoint, every bad input, no identifiers out."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cardiopredict.errors import ConfigError

pytestmark = pytest.mark.xdist_group("serve")

PREDICT = "/api/v1/models/crt-combined/predict"


@pytest.fixture(scope="module")
def answer(client, crt_files) -> dict:
    response = client.post(PREDICT, files=crt_files)
    assert response.status_code == 200, response.text
    return response.json()


def _assert_error(response, status: int, error: str, *words: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert "Traceback" not in body["message"]
    for word in words:
        assert word in body["message"], body["message"]
    return body


def test_healthz_and_page(client):
    assert client.get("/healthz").json() == {"status": "ok", "models_ready": 1, "token_required": False}
    page = client.get("/")
    assert page.status_code == 200 and "Research use only" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/api/v1/models/{name}/predict"]["post"]["requestBody"]
    assert {"pre", "post", "sex", "lvef"} <= set(
        body["content"]["multipart/form-data"]["schema"]["properties"]
    )


def test_models_lists_inputs_card_and_no_training_patients(client, model_dir):
    response = client.get("/api/v1/models")
    assert response.status_code == 200
    models = {m["name"]: m for m in response.json()["models"]}
    crt = models["crt-combined"]
    assert [i["field"] for i in crt["inputs"]] == ["pre", "post"]
    assert crt["preprocessing"]["window"]["qrs_samples"] == 250
    card = crt["card"]
    assert card["training_cohort"] == {"n_patients": 24, "n_excluded": 0, "synthetic": True}
    low, high = card["auc_ci95"]
    assert low <= card["pooled_auc"] <= high
    assert models["broken"]["available"] is False and "ModelFileError" in models["broken"]["reason"]
    assert str(model_dir) not in response.text  # server paths stay private
    assert "crt00" not in response.text  # model.json lists training patients; none is exposed


def test_predict_matches_the_ensemble_and_the_rule(answer, ecg_pair, model_dir):
    from cardiopredict.config import ECGWindowConfig
    from cardiopredict.evaluation.baselines import guideline_rule_scores
    from cardiopredict.features import extract_features
    from cardiopredict.training.artifacts import Ensemble

    window = ECGWindowConfig()
    pre, post = (extract_features(path, window) for path in ecg_pair)
    expected = Ensemble.load(model_dir).predict({"pre": pre.qrs[None], "post": post.qrs[None]})[0]
    prediction = answer["prediction"]
    assert prediction["probability"] == pytest.approx(expected, abs=1e-6)
    assert prediction["spread"]["min"] <= prediction["probability"] <= prediction["spread"]["max"]
    assert np.mean(prediction["fold_probabilities"]) == pytest.approx(expected, abs=1e-6)
    assert prediction["positive"] == (expected >= 0.5)
    rule = guideline_rule_scores([pre.measurements["qrs_duration_ms"]], [pre.measurements["lbbb_aha"]])[0]
    assert answer["rule"]["applicable"] and answer["rule"]["positive"] == bool(rule)
    assert answer["agreement"] == (answer["rule"]["positive"] == prediction["positive"])
    assert answer["measurements"]["pre"]["qrs_duration_ms"] == pre.measurements["qrs_duration_ms"]
    assert set(answer["quality"]) == {"pre", "post"}
    assert any("SYNTHETIC" in w for w in answer["warnings"])
    assert answer["model_card"]["research_use_only"] is True


def test_figures_are_png_and_expire(client, answer, served, upload_root, crt_files):
    for url in answer["figures"].values():
        response = client.get(url)
        assert response.status_code == 200 and response.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(answer["figures"]) == {"ecg_pre", "ecg_post", "saliency"}
    _assert_error(client.get(answer["figures"]["saliency"].replace("saliency", "other")), 404, "NotFound")

    from cardiopredict.serve import create_app

    with TestClient(create_app(served, max_results=1, upload_dir=upload_root)) as small:
        first = small.post(PREDICT, files=crt_files).json()
        small.post(PREDICT, files=crt_files)
        _assert_error(small.get(first["figures"]["ecg_pre"]), 404, "NotFound", "expired")


def _named_ecg(source: Path, folder: Path) -> Path:
    """``source`` with header cells holding a patient name and a hospital number."""
    path = folder / "Doe_Jane_MRN778899.csv"
    path.write_text("patient_name,Jane Doe\npatient_id,MRN778899\n" + source.read_text(encoding="utf-8"))
    return path


def test_nothing_from_the_header_or_file_name_is_returned_or_logged(client, ecg_pair, tmp_path, caplog):
    named = _named_ecg(ecg_pair[0], tmp_path)
    files = {"pre": (named.name, named.read_bytes()), "post": ("Doe_Jane_post.csv", ecg_pair[1].read_bytes())}
    with caplog.at_level(logging.DEBUG):
        response = client.post(PREDICT, files=files)
    assert response.status_code == 200
    for secret in ("Jane", "Doe", "MRN778899"):
        assert secret not in response.text
        assert secret not in caplog.text
    assert "crt-combined" in caplog.text  # the log does record requests


def test_uploads_are_removed_after_every_answer(client, crt_files, upload_root):
    client.post(PREDICT, files=crt_files)
    client.post(PREDICT, files={"pre": ("a.csv", b"not an ecg"), "post": crt_files["post"]})
    assert list(upload_root.iterdir()) == []


@pytest.mark.parametrize(
    ("files", "status", "error", "words"),
    [
        ({"pre": ("a.csv", b"x,y\n1,2\n")}, 422, "InputError", ("missing ['post']",)),
        ({"pre": ("a.csv", b"garbage bytes"), "post": None}, 422, "ECGFormatError", ("<pre file>",)),
        (
            {"pre": ("a.png", b"\x89PNG\r\n\x1a\n" + bytes(300)), "post": None},
            422,
            "ECGFormatError",
            ("<pre file>",),
        ),
        ({"pre": ("a.csv", b""), "post": None}, 422, "InputError", ("pre file is empty",)),
        ({"pre": None, "post": None, "ecg": ("e.csv", b"1")}, 422, "InputError", ("unexpected ['ecg']",)),
    ],
    ids=["missing-input", "corrupt", "wrong-format", "empty", "extra-field"],
)
def test_bad_files_get_named_4xx(client, crt_files, files, status, error, words):
    files = {key: value if value is not None else crt_files[key] for key, value in files.items()}
    _assert_error(client.post(PREDICT, files=files), status, error, *words)


def test_truncated_ecg(client, ecg_pair, crt_files):
    lines = ecg_pair[0].read_text(encoding="utf-8").splitlines()
    short = "\n".join(lines[:60]).encode()  # 3 header lines + 57 samples = 114 ms at 500 Hz
    response = client.post(PREDICT, files={"pre": ("pre.csv", short), "post": crt_files["post"]})
    body = _assert_error(response, 422, "SignalQualityError", "<pre file>")
    assert "/tmp" not in body["message"] and "cardiopredict-upload" not in body["message"]


def test_bad_requests_get_named_4xx(client, crt_files):
    _assert_error(
        client.post("/api/v1/models/nope/predict", files=crt_files), 404, "NotFound", "crt-combined"
    )
    _assert_error(
        client.post("/api/v1/models/broken/predict", files=crt_files), 409, "ModelFileError", "broken"
    )
    _assert_error(client.post(PREDICT, data={"x": "1"}), 422, "InputError", "multipart")
    _assert_error(client.post(PREDICT, files=crt_files, data={"lvef": "high"}), 422, "InputError", "lvef")
    _assert_error(
        client.post(PREDICT, files=crt_files, data={"lvef": "95"}), 422, "InputError", "between 5 and 80"
    )
    _assert_error(client.post(PREDICT, files=crt_files, data={"sex": "X"}), 422, "InputError", "sex")
    _assert_error(client.get("/api/v1/nothing"), 404, "NotFound")


def test_lvef_and_sex_are_used(client, crt_files):
    body = client.post(PREDICT, files=crt_files, data={"lvef": "30", "sex": "f"}).json()
    assert body["measurements"]["lvef_percent"] == 30.0


def test_oversized_upload_gets_413(served, upload_root, crt_files):
    from cardiopredict.serve import create_app

    with TestClient(create_app(served, max_upload_bytes=50_000, upload_dir=upload_root)) as small:
        _assert_error(small.post(PREDICT, files=crt_files), 413, "InputError", "larger than the limit")

        def chunks():  # no Content-Length: the body is counted as it streams
            yield b'--b\r\nContent-Disposition: form-data; name="pre"; filename="a.csv"\r\n\r\n'
            for _ in range(20):
                yield bytes(10_000)

        streamed = small.post(
            PREDICT, content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
        )
        _assert_error(streamed, 413, "InputError", "larger than the limit")
    assert list(upload_root.iterdir()) == []


def test_token_is_required_on_every_api_call(served, crt_files):
    from cardiopredict.serve import create_app

    with TestClient(create_app(served, token="correct-horse-battery")) as secured:
        assert secured.get("/healthz").json()["token_required"] is True
        _assert_error(secured.get("/api/v1/models"), 401, "Unauthorized", "Bearer")
        _assert_error(secured.post(PREDICT, files=crt_files), 401, "Unauthorized")
        wrong = {"Authorization": "Bearer wrong-token-value"}
        _assert_error(secured.get("/api/v1/models", headers=wrong), 401, "Unauthorized")
        good = {"Authorization": "Bearer correct-horse-battery"}
        answer = secured.post(PREDICT, files=crt_files, headers=good).json()
        unknown = answer["figures"]["saliency"].replace("saliency", "unknown")
        _assert_error(secured.get(unknown), 401, "Unauthorized")
        _assert_error(secured.get(unknown, headers=good), 404, "NotFound")  # past the token check
    with pytest.raises(ConfigError, match="shorter than 8"):
        create_app(served, token="short")


@pytest.mark.parametrize(("host", "token", "ok"), [
    ("127.0.0.1", None, True), ("localhost", None, True), ("::1", None, True),
    ("0.0.0.0", None, False), ("192.168.1.20", None, False), ("0.0.0.0", "a-long-secret", True),
])  # fmt: skip
def test_non_loopback_host_needs_a_token(host, token, ok):
    from cardiopredict.serve import check_bind

    if ok:
        check_bind(host, token)
    else:
        with pytest.raises(ConfigError, match="CARDIOPREDICT_TOKEN"):
            check_bind(host, token)


def test_duplicate_model_names_are_refused(model_dir):
    from cardiopredict.serve import load_models

    with pytest.raises(ConfigError, match="NAME=DIR"):
        load_models([model_dir, model_dir])
    assert list(load_models([f"mine={model_dir}"])) == ["mine"]


def test_an_lge_model_without_its_preprocessing_is_unavailable(model_dir, tmp_path):
    import json
    import shutil

    from cardiopredict.serve import load_models

    va = tmp_path / "run" / "models" / "scarnet"
    shutil.copytree(model_dir, va)
    config = json.loads((va / "model.json").read_text())
    config.update(study="va", inputs_spec={"slices": {"column": "lge", "feature": "slices"}})
    (va / "model.json").write_text(json.dumps(config))
    model = load_models([va])["va-scarnet"]
    assert not model.describe()["available"]
    assert "ModelFileError" in model.reason and "no lge_input" in model.reason


def _wfdb_zip(source: Path, folder: Path, *, record: str = "Doe_Jane_4711", extra: int = 0) -> bytes:
    """The ECG ``source`` as a WFDB record (header + signal file) named after a patient, zipped."""
    import io
    import zipfile

    from cardiopredict.ecg.io import read_ecg, write_ecg

    header = write_ecg(read_ecg(source), folder / f"{record}.hea")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.glob(f"{record}.*")):
            archive.write(path, f"export/{path.name}")
        for k in range(extra):
            archive.writestr(f"export/other{k}.hea", header.read_text())
    return buffer.getvalue()


def test_a_wfdb_record_is_uploaded_as_a_zip(client, ecg_pair, crt_files, answer, tmp_path):
    zipped = _wfdb_zip(ecg_pair[0], tmp_path)
    response = client.post(PREDICT, files={"pre": ("Doe_Jane.zip", zipped), "post": crt_files["post"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["measurements"]["pre"]["qrs_duration_ms"] == answer["measurements"]["pre"]["qrs_duration_ms"]
    assert body["prediction"]["probability"] == pytest.approx(answer["prediction"]["probability"], abs=1e-3)
    assert "Doe" not in response.text and "4711" not in response.text


def test_a_zip_with_several_records_or_an_escaping_member_is_refused_without_names(
    client, ecg_pair, crt_files, tmp_path
):
    import io
    import zipfile

    several = _wfdb_zip(ecg_pair[0], tmp_path, extra=1)
    body = _assert_error(
        client.post(PREDICT, files={"pre": ("a.zip", several), "post": crt_files["post"]}),
        422,
        "InputError",
        "2 WFDB headers",
    )
    assert "Doe" not in body["message"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../Doe_Jane.hea", "x")
    body = _assert_error(
        client.post(PREDICT, files={"pre": ("a.zip", buffer.getvalue()), "post": crt_files["post"]}),
        422,
        "InputError",
        "outside",
    )
    assert "Doe" not in body["message"]
