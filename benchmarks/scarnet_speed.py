"""Training speed of ScarNet (the VA study's slice CNN) against the machine's matmul rate.

Usage::

    python benchmarks/scarnet_speed.py --json scarnet_speed.json
    python benchmarks/scarnet_speed.py --variants "mean pooling +,polar" --cv-epochs 0

In one run it measures:

* the fp32 matmul GFLOP/s (the peer every rate is quoted against);
* per ScarNet variant, one training epoch (forward + backward + Adam) over ``--patients`` (190: the
  training patients of one fold of n = 235) x 10 slices at batch 32, timed end to end, with the counted
  FLOPs per patient (forward and training step, ``torch.utils.flop_counter``) and the share of the
  matmul rate it reaches;
* the cost per epoch through the real engine (``training.crossval.run_cv``: 5 folds of n = 235 with
  inner early stopping, ``--cv-epochs`` epochs each, so it includes scoring the inner validation split
  every epoch and the held-out fold at the end), beside a plain epoch and the matmul rate measured just
  before it (the machine is shared, so only numbers taken together are compared), and from it the worst
  case of the paper protocol: 5 folds x 100 epochs (early stopping only shortens it).

Inputs are random binary rings (the speed does not depend on the content); 10 real slices per patient is
the worst case (padded slots are not encoded).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

sys.path.insert(0, str(Path(__file__).parent))
from train_speed import _timed, count_step_flops, matmul_rate

BATCH = 32
SLICES = 10
VARIANTS = {
    "ordered (default)": {},
    "mean pooling": {"pooling": "mean"},
    "ordered + LGE channel": {"in_channels": 3},
    "ordered, width 16": {"width": 16},
    "mean pooling + LGE channel": {"pooling": "mean", "in_channels": 3},
    "polar + LGE channel (scarnet_polar --lge-channel)": {
        "representation": "polar",
        "pooling": "mean",
        "in_channels": 3,
    },
}


def _slices(n: int, in_channels: int, seed: int) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:128, :128] - 64
    radius = np.hypot(rows, cols)
    ring = ((radius > 16) & (radius < 26)).astype(np.float32)
    slices = np.zeros((n, SLICES, in_channels, 128, 128), dtype=np.float32)
    slices[:, :, 0] = ring
    slices[:, :, 1] = ring * (rng.random((n, SLICES, 1, 1)) < 0.5) * (cols > 0)
    if in_channels == 3:
        slices[:, :, 2] = ring * rng.random((n, SLICES, 128, 128), dtype=np.float32)
    return {"slices": torch.from_numpy(slices), "slice_mask": torch.ones(n, SLICES)}


def epoch_rate(kwargs: dict, *, patients: int, repeats: int) -> dict:
    from cardiopredict.models import build_model

    torch.manual_seed(0)
    model = build_model("scarnet", **kwargs)
    inputs = _slices(patients, kwargs.get("in_channels", 2), seed=0)
    y = torch.randint(0, 2, (patients,)).float()
    one = {key: value[:1] for key, value in inputs.items()}
    flops = count_step_flops(
        model, {key: value.repeat(2, *[1] * (value.dim() - 1)) for key, value in one.items()}, y[:2]
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def epoch() -> None:
        model.train()
        for batch in torch.randperm(patients).split(BATCH):
            optimizer.zero_grad(set_to_none=True)
            F.binary_cross_entropy_with_logits(
                model({k: v[batch] for k, v in inputs.items()}), y[batch]
            ).backward()
            optimizer.step()

    epoch()
    timing = _timed(epoch, repeats=repeats, pause_s=0.3)
    step_flops_per_patient = flops["train_step_flops"] / 2
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "forward_mflop_per_patient": round(flops["forward_flops"] / 2 / 1e6, 2),
        "train_step_mflop_per_patient": round(step_flops_per_patient / 1e6, 2),
        "epoch_s_best": round(timing["wall_best_s"], 3),
        "epoch_s_median": round(timing["wall_median_s"], 3),
        "train_gflops": round(step_flops_per_patient * patients / timing["wall_best_s"] / 1e9, 2),
    }


def cv_epoch_cost(*, n: int, epochs: int) -> dict:
    from cardiopredict.config import TrainingConfig
    from cardiopredict.training.crossval import make_folds, run_cv

    inputs = _slices(n, 2, seed=1)
    y = np.arange(n) % 4 == 0
    pids = [f"P{i:03d}" for i in range(n)]
    folds = make_folds(y.astype(int), pids, n_folds=5, seed=0)
    # patience > epochs: every fold runs all its epochs, with the inner split scored each epoch
    config = TrainingConfig(max_epochs=epochs, patience=epochs + 1, early_stopping="inner", seed=0)
    started = time.perf_counter()
    run_cv(
        {key: value.numpy() for key, value in inputs.items()},
        y.astype(int),
        folds,
        patient_ids=pids,
        model="scarnet",
        model_kwargs={},
        config=config,
    )
    seconds = time.perf_counter() - started
    per_epoch = seconds / (5 * epochs)
    return {
        "n_patients": n,
        "folds": 5,
        "epochs_per_fold": epochs,
        "wall_s": round(seconds, 2),
        "s_per_fold_epoch": round(per_epoch, 3),
        "paper_protocol_worst_case_min": round(per_epoch * 5 * 100 / 60, 1),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=190)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cv-epochs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--variants", default="", help="comma list of label prefixes to run (default: all)")
    args = parser.parse_args(argv)
    wanted = [word for word in args.variants.split(",") if word]

    matmul = matmul_rate(n=2048, repeats=5)
    report: dict = {
        "benchmark": "scarnet_speed",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "matmul": {key: round(value, 1) for key, value in matmul.items()},
        "epoch": f"{args.patients} patients x {SLICES} slices, batch {BATCH}, forward + backward + Adam",
        "variants": {},
    }
    for label, kwargs in VARIANTS.items():
        if wanted and not any(label.startswith(word) for word in wanted):
            continue
        result = epoch_rate(kwargs, patients=args.patients, repeats=args.repeats)
        result["share_of_matmul"] = round(result["train_gflops"] / matmul["gflops_best"], 3)
        report["variants"][label] = result
    if args.cv_epochs > 0:
        matmul_now = matmul_rate(n=2048, repeats=3)["gflops_best"]
        plain = epoch_rate({}, patients=args.patients, repeats=2)["epoch_s_best"]
        engine = cv_epoch_cost(n=235, epochs=args.cv_epochs)
        engine["matmul_gflops_just_before"] = round(matmul_now, 1)
        engine["plain_epoch_s_just_before"] = plain
        engine["engine_over_plain_epoch"] = round(engine["s_per_fold_epoch"] / plain, 2)
        report["run_cv"] = engine
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
