"""Fold models saved as safetensors + model.json, and the ensemble that reloads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cardiopredict.config import TrainingConfig
from cardiopredict.errors import ConfigError, InputError, ModelFileError
from cardiopredict.models import build_model
from cardiopredict.training.artifacts import Ensemble, save_fold_weights, write_model_json
from cardiopredict.training.crossval import make_folds, run_cv

SMALL = {"channels": (4, 8, 16), "hidden_size": 16}
COMPOSITE = {"input_keys": ["pre", "post"], "n_samples": 250, "n_scalars": 2, "scalars_key": "s", **SMALL}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _inputs(n: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    scalars = rng.normal(800.0, 100.0, size=(n, 2))
    scalars[0, 1] = np.nan
    return {
        "pre": rng.normal(size=(n, 12, 250)).astype(np.float32),
        "post": rng.normal(size=(n, 12, 250)).astype(np.float32),
        "s": scalars.astype(np.float32),
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, dict, np.ndarray]:
    torch.set_num_threads(1)
    inputs = _inputs(32)
    y = np.arange(32) % 2
    pids = [f"P{i}" for i in range(32)]
    folds = make_folds(y, pids, n_folds=2, seed=0)
    out = tmp_path_factory.mktemp("model")
    config = TrainingConfig(n_folds=2, max_epochs=2, patience=1, learning_rate=1e-3, batch_size=8)
    result = run_cv(
        inputs,
        y,
        folds,
        patient_ids=pids,
        model="ecgcomposite",
        model_kwargs=COMPOSITE,
        config=config,
        out_dir=out,
        model_json_extra={"study": "test", "inputs_spec": {"pre": {"column": "ecg_pre"}}},
    )
    return out, result, inputs, folds


def test_model_json_describes_the_run(trained) -> None:
    out, result, _, _ = trained
    config = json.loads((out / "model.json").read_text())
    assert config["model"] == "ecgcomposite"
    assert config["model_kwargs"]["n_outputs"] == 1 and config["n_classes"] == 2
    # every builder argument is stored, so a later change of a default cannot change the rebuilt network
    assert {"kernel_size", "pool_size", "pooling", "dropout", "hidden_size"} <= set(config["model_kwargs"])
    assert config["model_kwargs"]["channels"] == [4, 8, 16]
    assert config["training"]["max_epochs"] == 2
    assert config["best_epochs"] == result.best_epochs
    assert [f["file"] for f in config["folds"]] == ["fold0.safetensors", "fold1.safetensors"]
    assert config["study"] == "test" and config["inputs_spec"]["pre"]["column"] == "ecg_pre"
    test_patients = [set(f["test_patients"]) for f in config["folds"]]
    assert not test_patients[0] & test_patients[1]
    assert sorted(p.name for p in out.iterdir()) == ["fold0.safetensors", "fold1.safetensors", "model.json"]


def test_ensemble_reproduces_out_of_fold_scores(trained) -> None:
    """Each reloaded fold model gives the out-of-fold scores run_cv computed in memory."""
    out, result, inputs, folds = trained
    ensemble = Ensemble.load(out)
    assert ensemble.input_keys == ("pre", "post", "s")
    for k, model in enumerate(ensemble.models):
        rows = folds == k
        with torch.no_grad():
            logits = model({key: torch.from_numpy(value[rows]) for key, value in inputs.items()})
        np.testing.assert_allclose(
            torch.sigmoid(logits).numpy(), result.oof_scores[rows], rtol=1e-5, atol=1e-6
        )


def test_ensemble_predict_is_the_mean_of_fold_models(tmp_path: Path) -> None:
    torch.manual_seed(0)
    models = [build_model("ecgcomposite", **COMPOSITE).eval() for _ in range(3)]
    inputs = _inputs(7, seed=1)
    for model in models:
        model.fit_preprocessing(inputs)
    for k, model in enumerate(models):
        save_fold_weights(model, tmp_path / f"fold{k}.safetensors")
    folds = [{"fold": k, "file": f"fold{k}.safetensors"} for k in range(3)]
    write_model_json(
        tmp_path, {"model": "ecgcomposite", "model_kwargs": COMPOSITE, "n_classes": 2, "folds": folds}
    )
    with torch.no_grad():
        tensors = {key: torch.from_numpy(value) for key, value in inputs.items()}
        expected = torch.stack([torch.sigmoid(m(tensors)) for m in models]).mean(0).numpy()
    predicted = Ensemble.load(tmp_path).predict(inputs, batch_size=3)
    assert predicted.shape == (7,)
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-7)


def test_multiclass_ensemble_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 12, 250)).astype(np.float32)
    y = np.arange(30) % 3
    pids = [str(i) for i in range(30)]
    folds = make_folds(y, pids, n_folds=2, seed=0)
    config = TrainingConfig(n_folds=2, max_epochs=1, patience=1, early_stopping="none", batch_size=16)
    run_cv(
        {"ecg": x},
        y,
        folds,
        patient_ids=pids,
        model="ecgnet",
        model_kwargs=SMALL,
        config=config,
        n_classes=3,
        out_dir=tmp_path,
    )
    proba = Ensemble.load(tmp_path).predict({"ecg": x[:4]})
    assert proba.shape == (4, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def _copy_model(trained, tmp_path: Path) -> Path:
    out = trained[0]
    for path in out.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    return tmp_path


def test_refuses_pickles(trained, tmp_path: Path) -> None:
    model_dir = _copy_model(trained, tmp_path)
    config = json.loads((model_dir / "model.json").read_text())
    torch.save(build_model("ecgcomposite", **COMPOSITE).state_dict(), model_dir / "fold0.pt")
    config["folds"][0]["file"] = "fold0.pt"
    (model_dir / "model.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=r"fold0.pt: only .safetensors weight files are loaded"):
        Ensemble.load(model_dir)
    (model_dir / "model.json").unlink()
    with pytest.raises(ModelFileError, match=r"model.json not found. It holds \['fold0.pt'\]: pickled"):
        Ensemble.load(model_dir)


def test_refuses_a_pickle_renamed_to_safetensors(trained, tmp_path: Path) -> None:
    model_dir = _copy_model(trained, tmp_path)
    torch.save(build_model("ecgcomposite", **COMPOSITE).state_dict(), model_dir / "fold1.safetensors")
    with pytest.raises(ModelFileError, match=r"fold1\.safetensors: not a readable safetensors file"):
        Ensemble.load(model_dir)


def test_refuses_corrupt_or_missing_files(trained, tmp_path: Path) -> None:
    model_dir = _copy_model(trained, tmp_path)
    data = (model_dir / "fold0.safetensors").read_bytes()
    (model_dir / "fold0.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        Ensemble.load(model_dir)
    (model_dir / "fold0.safetensors").unlink()
    with pytest.raises(ModelFileError, match=r"fold0\.safetensors: weight file is missing"):
        Ensemble.load(model_dir)
    (model_dir / "model.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        Ensemble.load(model_dir)


def test_refuses_weights_of_another_network(trained, tmp_path: Path) -> None:
    model_dir = _copy_model(trained, tmp_path)
    other = build_model("ecgcomposite", **{**COMPOSITE, "channels": (4, 8, 32)})
    save_fold_weights(other, model_dir / "fold1.safetensors")
    with pytest.raises(ModelFileError, match=r"does not match the network.*wrong shapes"):
        Ensemble.load(model_dir)


def test_predict_names_missing_inputs(trained) -> None:
    ensemble = Ensemble.load(trained[0])
    with pytest.raises(InputError, match=r"inputs lack \['s'\]"):
        ensemble.predict({"pre": np.zeros((1, 12, 250)), "post": np.zeros((1, 12, 250))})


def test_extra_keys_must_not_clash(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 12, 250)).astype(np.float32)
    y = np.arange(20) % 2
    pids = [str(i) for i in range(20)]
    folds = make_folds(y, pids, n_folds=2, seed=0)
    config = TrainingConfig(n_folds=2, max_epochs=1, patience=1, early_stopping="none")
    with pytest.raises(ConfigError, match=r"keys \['model'\] clash"):
        run_cv(
            {"ecg": x},
            y,
            folds,
            patient_ids=pids,
            model="ecgnet",
            model_kwargs=SMALL,
            config=config,
            out_dir=tmp_path,
            model_json_extra={"model": "mine"},
        )
    assert not (tmp_path / "model.json").exists()
