"""Patient-level folds and the cross-validation engine on tiny synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from cardiopredict.config import TrainingConfig
from cardiopredict.errors import ConfigError, InputError, InsufficientDataError
from cardiopredict.training.crossval import CURVE_COLUMNS, auc_of, make_folds, run_cv

SMALL = {"input_key": "ecg", "n_samples": 250, "channels": (4, 8, 16), "hidden_size": 16}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cohort(n: int = 40, *, n_classes: int = 2, signal: float = 0.0, seed: int = 0):
    """Random 12x250 windows; class c > 0 gets a bump of ``signal`` mV at a class-specific place."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    x = rng.normal(0.0, 1.0, size=(n, 12, 250)).astype(np.float32)
    for c in range(1, n_classes):
        x[y == c, :, 60 * c : 60 * c + 40] += signal
    pids = [f"P{i:03d}" for i in range(n)]
    return x, y, pids


def _config(**changes) -> TrainingConfig:
    base = {"n_folds": 2, "max_epochs": 3, "patience": 2, "learning_rate": 1e-3, "batch_size": 8}
    return TrainingConfig(**{**base, **changes})


# --- make_folds ------------------------------------------------------------------------------


def test_no_patient_in_two_folds_and_class_ratio_kept() -> None:
    rng = np.random.default_rng(1)
    patients = np.repeat([f"P{i}" for i in range(60)], rng.integers(1, 4, 60))  # 1-3 rows per patient
    patient_label = {f"P{i}": int(i % 3 == 0) for i in range(60)}
    y = np.array([patient_label[p] for p in patients])
    folds = make_folds(y, patients, n_folds=5, seed=0)
    assert set(folds.tolist()) == set(range(5))
    for pid in np.unique(patients):
        assert len(set(folds[patients == pid].tolist())) == 1
    overall = np.mean([patient_label[p] for p in np.unique(patients)])
    for k in range(5):
        fold_patients = np.unique(patients[folds == k])
        ratio = np.mean([patient_label[p] for p in fold_patients])
        assert abs(ratio - overall) < 0.15


def test_folds_depend_on_seed_only() -> None:
    y = np.arange(50) % 2
    pids = [str(i) for i in range(50)]
    np.testing.assert_array_equal(
        make_folds(y, pids, n_folds=5, seed=3), make_folds(y, pids, n_folds=5, seed=3)
    )
    assert not np.array_equal(make_folds(y, pids, n_folds=5, seed=3), make_folds(y, pids, n_folds=5, seed=4))


def test_too_few_patients_per_class() -> None:
    y = np.array([0] * 20 + [1] * 3)
    pids = [str(i) for i in range(23)]
    with pytest.raises(InsufficientDataError, match=r"fewer patients than n_folds=5.*at most 3 folds"):
        make_folds(y, pids, n_folds=5, seed=0)
    with pytest.raises(InsufficientDataError, match="at least two classes"):
        make_folds(np.zeros(10, dtype=int), pids[:10], n_folds=2, seed=0)


# --- run_cv ----------------------------------------------------------------------------------


def test_same_seed_same_scores_and_curves() -> None:
    x, y, pids = _cohort()
    folds = make_folds(y, pids, n_folds=2, seed=0)
    runs = [
        run_cv(
            {"ecg": x}, y, folds, patient_ids=pids, model="ecgnet", model_kwargs=SMALL, config=_config(seed=s)
        )
        for s in (0, 0, 1)
    ]
    np.testing.assert_array_equal(runs[0].oof_scores, runs[1].oof_scores)
    pd.testing.assert_frame_equal(runs[0].curves, runs[1].curves)
    assert not np.array_equal(runs[0].oof_scores, runs[2].oof_scores)
    assert runs[0].oof_scores.shape == (40,)
    assert np.all((runs[0].oof_scores >= 0) & (runs[0].oof_scores <= 1))


def test_none_trains_max_epochs_and_logs_curves() -> None:
    x, y, pids = _cohort()
    folds = make_folds(y, pids, n_folds=2, seed=0)
    result = run_cv(
        {"ecg": x},
        y,
        folds,
        patient_ids=pids,
        model="ecgnet",
        model_kwargs=SMALL,
        config=_config(early_stopping="none", max_epochs=3),
    )
    assert result.early_stopping == "none"
    assert result.best_epochs == [3, 3]
    assert list(result.curves.columns) == CURVE_COLUMNS
    assert result.curves.groupby("fold")["epoch"].apply(list).tolist() == [[1, 2, 3], [1, 2, 3]]
    assert result.curves[["train_loss", "val_loss"]].notna().all().all()
    assert result.runtime_s > 0


@pytest.mark.parametrize("mode", ["inner", "outer"])
def test_early_stopping_restores_the_best_epoch(mode: str) -> None:
    x, y, pids = _cohort()
    folds = make_folds(y, pids, n_folds=2, seed=0)
    config = _config(early_stopping=mode, max_epochs=8, patience=1, learning_rate=3e-3)
    result = run_cv({"ecg": x}, y, folds, patient_ids=pids, model="ecgnet", model_kwargs=SMALL, config=config)
    for k, best in zip(range(2), result.best_epochs, strict=True):
        curve = result.curves[result.curves["fold"] == k]
        assert best == int(curve.loc[curve["val_loss"].idxmin(), "epoch"])
        # stops `patience` epochs after the best one, unless max_epochs came first
        assert len(curve) == min(best + config.patience, config.max_epochs)
    if mode == "outer":
        assert result.early_stopping.startswith("outer (optimistic")
    else:
        assert result.early_stopping == "inner"
        for patients in result.fold_patients:
            fit, val, test = (set(patients[key]) for key in ("fit_patients", "val_patients", "test_patients"))
            assert val and not (fit & val) and not (fit & test) and not (val & test)
            assert len(val) == pytest.approx(0.2 * (len(fit) + len(val)), abs=1)


def test_outer_scores_equal_the_watched_fold() -> None:
    """With 'outer' the validation split is the test fold: the best val AUC is the fold's test AUC."""
    x, y, pids = _cohort()
    folds = make_folds(y, pids, n_folds=2, seed=0)
    result = run_cv(
        {"ecg": x},
        y,
        folds,
        patient_ids=pids,
        model="ecgnet",
        model_kwargs=SMALL,
        config=_config(early_stopping="outer", max_epochs=4),
    )
    for k, best in enumerate(result.best_epochs):
        row = result.curves[(result.curves["fold"] == k) & (result.curves["epoch"] == best)]
        test = folds == k
        assert auc_of(y[test], result.oof_scores[test], 2) == pytest.approx(
            float(row["val_auc"].iloc[0]), abs=1e-6
        )


def test_multiclass_shapes() -> None:
    x, y, pids = _cohort(42, n_classes=3)
    folds = make_folds(y, pids, n_folds=2, seed=0)
    result = run_cv(
        {"ecg": x},
        y,
        folds,
        patient_ids=pids,
        model="ecgnet",
        model_kwargs=SMALL,
        config=_config(max_epochs=2),
        n_classes=3,
    )
    assert result.oof_scores.shape == (42, 3)
    np.testing.assert_allclose(result.oof_scores.sum(axis=1), 1.0, atol=1e-5)
    assert result.curves["val_auc"].notna().all()


def test_learnable_signal_reaches_high_auc() -> None:
    """The engine learns: a 0.5 mV bump in class 1 (noise SD 1 mV) is found on held-out patients."""
    x, y, pids = _cohort(48, signal=0.5, seed=2)
    folds = make_folds(y, pids, n_folds=2, seed=0)
    result = run_cv(
        {"ecg": x},
        y,
        folds,
        patient_ids=pids,
        model="ecgnet",
        model_kwargs=SMALL,
        config=_config(early_stopping="none", max_epochs=12, learning_rate=3e-3),
    )
    assert auc_of(y, result.oof_scores, 2) > 0.8


def test_bad_inputs_fail_before_training() -> None:
    x, y, pids = _cohort()
    folds = make_folds(y, pids, n_folds=2, seed=0)
    kwargs = {"patient_ids": pids, "model": "ecgnet", "model_kwargs": SMALL, "config": _config()}
    broken = x.copy()
    broken[5, 3, 10] = np.nan
    with pytest.raises(InputError, match=r"NaN/inf in rows \[5\] \(patients \['P005'\]\)"):
        run_cv({"ecg": broken}, y, folds, **kwargs)
    with pytest.raises(InputError, match="39 rows but y has 40"):
        run_cv({"ecg": x[:-1]}, y, folds, **kwargs)
    with pytest.raises(InputError, match=r"n_classes=2 use 0\.\.1"):
        run_cv({"ecg": x}, y + 1, folds, **kwargs)
    leaky = folds.copy()
    leaky[1] = 1 - leaky[0]
    with pytest.raises(InputError, match=r"have rows in more than one fold"):
        run_cv({"ecg": x}, y, leaky, **{**kwargs, "patient_ids": ["P000", "P000", *pids[2:]]})
    with pytest.raises(ConfigError, match="n_outputs=3 does not fit n_classes=2"):
        run_cv({"ecg": x}, y, folds, **{**kwargs, "model_kwargs": {**SMALL, "n_outputs": 3}})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is absent")
def test_cuda_requested_without_gpu_is_config_error() -> None:
    x, y, pids = _cohort()
    folds = make_folds(y, pids, n_folds=2, seed=0)
    with pytest.raises(ConfigError, match="CUDA is not available"):
        run_cv(
            {"ecg": x},
            y,
            folds,
            patient_ids=pids,
            model="ecgnet",
            model_kwargs=SMALL,
            config=_config(device="cuda"),
        )


def test_weight_averaging_blends_epochs_and_never_changes_a_kept_average() -> None:
    from types import SimpleNamespace

    from cardiopredict.training.crossval import _step_average

    module = SimpleNamespace(model=torch.nn.Linear(1, 1, bias=False))
    assert _step_average(module, None, 0.0) == (None, None)  # off: nothing copied or loaded
    values, average, kept = [1.0, 3.0, 5.0], None, []
    for value in values:
        with torch.no_grad():
            module.model.weight.fill_(value)
        raw, average = _step_average(module, average, 0.5)
        kept.append(average)
        assert raw["weight"].item() == value  # what training goes on from
        assert module.model.weight.item() == average["weight"].item()  # what is validated
    assert [a["weight"].item() for a in kept] == [1.0, 2.0, 3.5]


def test_weight_averaging_still_learns_and_is_recorded() -> None:
    x, y, pids = _cohort(48, signal=0.5, seed=2)
    folds = make_folds(y, pids, n_folds=2, seed=0)
    config = _config(early_stopping="none", max_epochs=12, learning_rate=3e-3)
    runs = [
        run_cv({"ecg": x}, y, folds, patient_ids=pids, model="ecgnet", model_kwargs=SMALL, config=c)
        for c in (
            config,
            _config(early_stopping="none", max_epochs=12, learning_rate=3e-3, weight_averaging=0.5),
        )
    ]
    assert auc_of(y, runs[1].oof_scores, 2) > 0.8
    assert not np.allclose(runs[0].oof_scores, runs[1].oof_scores)
    with pytest.raises(ConfigError, match="weight_averaging"):
        _config(weight_averaging=1.0)


def test_an_ecg_network_trains_in_its_memory_layout_and_others_keep_theirs() -> None:
    from cardiopredict.training.crossval import _new_module

    x, _, _ = _cohort(16)
    rows = np.arange(16)
    module = _new_module("ecgnet", SMALL, 2, _config(), {"ecg": x}, rows, 0, torch.device("cpu"))
    convs = [m.weight for m in module.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert module.model.memory_format == torch.channels_last
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert not convs[-1].is_contiguous()  # (16, 8, 1, 7): the two layouts really differ here

    scar = {"width": 4, "slice_features": 8, "hidden_size": 8, "image_size": 32, "max_slices": 3}
    slices = np.zeros((16, 3, 2, 32, 32), dtype=np.float32)
    arrays = {"slices": slices, "slice_mask": np.ones((16, 3), dtype=np.float32)}
    other = _new_module("scarnet", scar, 2, _config(), arrays, rows, 0, torch.device("cpu"))
    assert all(p.is_contiguous() for p in other.model.parameters())


def test_saved_channels_last_weights_score_the_held_out_patients_as_training_did(tmp_path) -> None:
    from cardiopredict.training.artifacts import Ensemble

    x, y, pids = _cohort(40, signal=0.5)
    folds = make_folds(y, pids, n_folds=2, seed=0)
    config = _config(early_stopping="none")
    result = run_cv({"ecg": x}, y, folds, patient_ids=pids, model="ecgnet", model_kwargs=SMALL, config=config,
                    out_dir=tmp_path / "m")  # fmt: skip
    ensemble = Ensemble.load(tmp_path / "m")
    for k, net in enumerate(ensemble.models):
        rows = folds == k
        with torch.inference_mode():
            proba = torch.sigmoid(net({"ecg": torch.from_numpy(x[rows])})).numpy()
        np.testing.assert_allclose(proba, result.oof_scores[rows], atol=1e-5)
