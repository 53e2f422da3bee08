"""VA slice montages of the extreme patients and the ScarNet integrated-gradients saliency."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cardiopredict.config import TrainingConfig
from cardiopredict.errors import ConfigError, InputError
from cardiopredict.models import pad_slices
from cardiopredict.plots.va import extreme_rows, plot_va_extremes, scar_saliency

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _patients(n: int, *, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    rows, cols = np.indices((128, 128)) - 64
    radius, angle = np.hypot(rows, cols), np.degrees(np.arctan2(cols, -rows)) % 360
    lge, inputs = [], []
    for _ in range(n):
        n_slices = int(rng.integers(3, 5))
        ring = (radius >= 15) & (radius < 23)
        scar = ring & (np.abs((angle - rng.uniform(0, 360) + 180) % 360 - 180) < 40)
        image = np.where(scar, 0.9, np.where(ring, 0.1, 0.6 * (radius < 15)))
        lge.append(np.stack([image] * n_slices).astype(np.float32))
        inputs.append(np.stack([np.stack([ring, scar])] * n_slices).astype(np.float32))
    return lge, inputs


def test_extreme_rows_orders_and_skips_nan() -> None:
    top, bottom = extreme_rows([0.2, np.nan, 0.9, 0.1, 0.5], k=2)
    assert top.tolist() == [2, 4] and bottom.tolist() == [3, 0]
    with pytest.raises(ConfigError, match="needs 2\\*k distinct patients"):
        extreme_rows([0.1, 0.2, np.nan], k=2)


def test_montages_written_per_patient_with_saliency(tmp_path) -> None:
    lge, inputs = _patients(7)
    scores = np.linspace(0, 1, 7)
    pids = [f"VA{i:03d}" for i in range(7)]
    saliency = {
        pid: np.random.default_rng(1).normal(size=stack.shape)
        for pid, stack in zip(pids, inputs, strict=True)
    }
    paths = plot_va_extremes(lge, inputs, scores, pids, saliency=saliency, k=2, out_dir=tmp_path / "fig")
    assert [p.name for p in paths] == ["va_top1.png", "va_top2.png", "va_bottom1.png", "va_bottom2.png"]
    for path in paths:
        assert path.read_bytes()[:8] == PNG_MAGIC
    assert not [p for p in (tmp_path / "fig").iterdir() if p.name.startswith(".")]  # no temporary left
    without = plot_va_extremes(lge, inputs, scores, pids, k=1, out_dir=tmp_path / "plain", prefix="x")
    assert [p.name for p in without] == ["x_top1.png", "x_bottom1.png"]
    assert without[0].stat().st_size < paths[0].stat().st_size  # three rows instead of four


def test_montage_input_errors(tmp_path) -> None:
    lge, inputs = _patients(4)
    pids = ["a", "b", "c", "d"]
    with pytest.raises(InputError, match="one entry per patient"):
        plot_va_extremes(lge[:3], inputs, np.arange(4.0), pids, k=1, out_dir=tmp_path)
    bad = {pid: np.zeros((1, 2, 128, 128)) for pid in pids}
    with pytest.raises(InputError, match=r"saliency \(1, 2, 128, 128\) must be \(n_slices, C, H, W\)"):
        plot_va_extremes(lge, inputs, np.arange(4.0), pids, saliency=bad, k=1, out_dir=tmp_path)


def test_scar_saliency_is_complete_and_zero_on_padding(tmp_path) -> None:
    from cardiopredict.training.artifacts import Ensemble
    from cardiopredict.training.crossval import make_folds, run_cv

    _, inputs = _patients(12, seed=2)
    slices, mask = pad_slices(inputs)
    y = np.arange(12) % 2
    pids = [f"P{i}" for i in range(12)]
    run_cv(
        {"slices": slices, "slice_mask": mask},
        y,
        make_folds(y, pids, n_folds=2, seed=0),
        patient_ids=pids,
        model="scarnet",
        model_kwargs={"width": 4, "slice_features": 8, "hidden_size": 8},
        config=TrainingConfig(max_epochs=1, batch_size=6, early_stopping="none"),
        out_dir=tmp_path,
    )
    attribution = scar_saliency(tmp_path, slices[:2], mask[:2], n_steps=16, method="torch")
    assert attribution.shape == slices[:2].shape
    assert np.abs(attribution[mask[:2] == 0]).max() == 0.0
    ensemble = Ensemble.load(tmp_path)
    with torch.no_grad():
        at_input = ensemble.probabilities(
            {"slices": torch.from_numpy(slices[:2]), "slice_mask": torch.from_numpy(mask[:2])}
        )
        at_zero = ensemble.probabilities(
            {"slices": torch.zeros(2, *slices.shape[1:]), "slice_mask": torch.from_numpy(mask[:2])}
        )
    np.testing.assert_allclose(attribution.sum(axis=(1, 2, 3, 4)), (at_input - at_zero).numpy(), atol=2e-3)
