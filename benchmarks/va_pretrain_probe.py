"""Does label-free pretraining of the slice encoder help the VA slice CNN? (SYNTHETIC, issue 13)

Per fold, before the outcome training, the scarnet slice encoder (plus a throw-away linear layer) is
trained to regress per-slice descriptors computed from its own input on the fitting patients only (no
outcome, no validation or test patient): myocardium area, scar fraction, log(1 + scar pieces of >= 8
pixels), scar edge length / sqrt(scar area), and the scar fraction of 12 angular sectors about the
myocardium's centroid. Then ``run_cv`` trains on the outcome with the encoder frozen (``--freeze``) or
fine-tuned. The pretraining runs through ``ScarNet.fit_preprocessing`` (the hook ``run_cv`` calls with
the fitting rows), patched in this script only; nothing here ships in the package.

A logistic regression on the same descriptors (mean and sum over slices), on the same folds, is printed
beside it: the bound of what the pretraining can hand the CNN.

Usage::

    python benchmarks/va_pretrain_probe.py --seed 1 --variants mean_frozen,flatten_frozen --json p.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from _report import emit
from va_signal_probe import build

MEAN = {"spatial_pooling": "mean", "pooling": "mean"}
VARIANTS: dict[str, tuple[dict[str, Any], bool]] = {
    # name: (scarnet options, encoder frozen after pretraining); 2 channels, lr 1e-3, <= 40 epochs,
    # patience 8, batch 32, inner early stopping
    "flatten_frozen": ({}, True),
    "mean_frozen": (MEAN, True),
    "flatten_tuned": ({}, False),
    "mean_tuned": (MEAN, False),
}
PRETRAIN_EPOCHS, PRETRAIN_BATCH, PRETRAIN_LR = 30, 64, 1e-3


def descriptors(slices: np.ndarray) -> np.ndarray:
    """Per real slice ``(m, C, H, W)`` -> ``(m, 16)`` label-free descriptors of its two masks."""
    height, width = slices.shape[-2:]
    yy, xx = np.mgrid[:height, :width]
    rows = []
    for image in slices:
        myo = image[0] > 0.5
        scar = (image[1] > 0.5) & myo
        myo_px, scar_px = int(myo.sum()), int(scar.sum())
        cy, cx = (yy[myo].mean(), xx[myo].mean()) if myo_px else (height / 2, width / 2)
        angle = np.arctan2(xx - cx, -(yy - cy)) % (2 * np.pi)
        sector = (angle / (2 * np.pi) * 12).astype(int) % 12
        sector_scar = np.bincount(sector[scar], minlength=12) / np.maximum(
            np.bincount(sector[myo], minlength=12), 1
        )
        labels, _ = ndimage.label(scar)
        pieces = int((np.bincount(labels.ravel())[1:] >= 8).sum())
        edge = int((scar & ~ndimage.binary_erosion(scar)).sum())
        shape = [
            myo_px / 1000,
            scar_px / max(myo_px, 1),
            np.log1p(pieces),
            edge / np.sqrt(max(scar_px, 1)) / 10,
        ]
        rows.append(np.r_[shape, sector_scar])
    return np.asarray(rows, dtype=np.float32)


def pretrain_encoder(model: nn.Module, inputs: dict[str, np.ndarray], *, freeze: bool) -> float:
    """Fit ``model.encoder`` to the standardised descriptors of the fitting slices; the final MSE."""
    real = np.ascontiguousarray(inputs["slices"][inputs["slice_mask"] > 0.5])
    target = descriptors(real)
    target = torch.from_numpy((target - target.mean(0)) / (target.std(0) + 1e-6))
    images = torch.from_numpy(real)
    encoder = model.encoder
    readout = nn.Linear(encoder.project[0].out_features, target.shape[1])
    optimizer = torch.optim.Adam([*encoder.parameters(), *readout.parameters()], lr=PRETRAIN_LR)
    generator = torch.Generator().manual_seed(0)
    encoder.train()
    for _ in range(PRETRAIN_EPOCHS):
        total = 0.0
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), PRETRAIN_BATCH):
            index = order[start : start + PRETRAIN_BATCH]
            batch = images[index]
            loss = ((readout(encoder(batch, torch.arange(len(batch)))) - target[index]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
    for parameter in encoder.parameters():
        parameter.requires_grad_(not freeze)
    return total / len(images)


def cnn_variant(name: str, data: dict[str, Any], folds: np.ndarray) -> dict[str, Any]:
    from cardiopredict.config import TrainingConfig
    from cardiopredict.models.scarnet import ScarNet
    from cardiopredict.training.crossval import run_cv

    options, freeze = VARIANTS[name]
    losses: list[float] = []
    ScarNet.fit_preprocessing = lambda model, inputs: losses.append(
        pretrain_encoder(model, inputs, freeze=freeze)
    )
    torch.set_num_threads(1)
    y, started = data["y"], time.perf_counter()
    try:
        result = run_cv(
            {"slices": np.ascontiguousarray(data["slices"][:, :, :2]), "slice_mask": data["mask"]},
            y,
            folds,
            patient_ids=data["pids"],
            model="scarnet",
            model_kwargs={"in_channels": 2, **options},
            config=TrainingConfig(learning_rate=1e-3, max_epochs=40, patience=8),
        )
    finally:
        del ScarNet.fit_preprocessing
    per_fold = [roc_auc_score(y[folds == k], result.oof_scores[folds == k]) for k in np.unique(folds)]
    return {
        "auc_pooled": round(roc_auc_score(y, result.oof_scores), 3),
        "auc_folds": [round(a, 3) for a in per_fold],
        "best_epochs": result.best_epochs,
        "pretrain_mse": [round(v, 3) for v in losses],
        "seconds": round(time.perf_counter() - started, 1),
    }


def descriptor_logistic(data: dict[str, Any], folds: np.ndarray) -> dict[str, float]:
    y, slices, mask = data["y"], data["slices"][:, :, :2], data["mask"]
    per_slice = [descriptors(slices[i][mask[i] > 0.5]) for i in range(len(y))]
    inputs = {
        "descriptors_mean": np.array([d.mean(0) for d in per_slice]),
        "descriptors_sum": np.array([d.sum(0) for d in per_slice]),
        "scar_features": data["scar"],
    }
    result = {}
    for name, x in inputs.items():
        scores = np.zeros(len(y))
        for k in np.unique(folds):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
            model.fit(x[folds != k], y[folds != k])
            scores[folds == k] = model.predict_proba(x[folds == k])[:, 1]
        result[name] = round(roc_auc_score(y, scores), 3)
    return result


def main(argv: list[str] | None = None) -> dict:
    from cardiopredict.training.crossval import make_folds

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--n", type=int, default=235)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", default="mean_frozen", help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = build(args.n, args.seed, Path(tmp))
    folds = make_folds(data["y"], data["pids"], n_folds=5, seed=0)
    report: dict[str, Any] = {
        "data": f"SYNTHETIC simulate_va_cohort(n={args.n}, seed={args.seed}), nsd scar, 2 channels",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "event_rate": round(float(data["y"].mean()), 3),
        "logistic_auc": descriptor_logistic(data, folds),
        "cnn": {name: cnn_variant(name, data, folds) for name in filter(None, args.variants.split(","))},
    }
    emit(report, args.json)
    return report


if __name__ == "__main__":
    main()
