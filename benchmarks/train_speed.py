"""Training speed of ECGNet on this machine, in one run.

Measures
  (a) the machine's fp32 matmul rate (GFLOP/s, large square matmul, ``--threads`` threads);
  (b) ECGNet training: FLOPs of one forward + backward step counted with
      ``torch.utils.flop_counter.FlopCounterMode``, samples/s and GFLOP/s, and the ratio to (a)
      (goal >= 50 %);
  (c) the cross-validation engine (``run_cv``: the LightningModule driven by a lean loop) and
      ``lightning.Trainer.fit`` (logging, checkpoints, progress bar and model summary off) against a plain
      PyTorch loop doing the same work — same model, data, batches and per-epoch validation
      (goal: framework overhead <= 10 %);
  (d) design choices the paper left open, timed per training step: kernel size, max-pool size, flatten
      vs global average pooling, Conv2d with (1, k) kernels (the library's) vs Conv1d with the leads
      folded into the batch, fused vs foreach Adam.

Wall times are best-of-``--repeats`` (the machine may be shared: the load average is recorded; CPU
time per step is reported beside wall time).

Usage::

    python benchmarks/train_speed.py --json bench_train.json [--threads 2] [--repeats 5] [--quick]
    python benchmarks/train_speed.py --json auc.json --auc /tmp/crt_cohort --skip-speed   # (e) only

(e), optional: out-of-fold AUC and CPU time of the speed-motivated choices (pool size, kernel, global
pooling) on the synthetic CRT cohort, same folds, so a speed choice can be checked not to cost AUC.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cardiopredict.training.crossval import in_training_layout

BATCH = 32
TINY = {"channels": (4, 8, 16), "hidden_size": 8}
N_LEADS, N_SAMPLES = 12, 250


def _timed(fn, *, repeats: int, inner: int = 1, pause_s: float = 0.0) -> dict[str, float]:
    """Best and median wall / CPU seconds per call of ``fn`` (``inner`` calls per sample).

    ``pause_s`` spaces the samples out so a short burst of load from other processes cannot spoil
    all of them.
    """
    walls, cpus = [], []
    for _ in range(repeats):
        time.sleep(pause_s)
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(inner):
            fn()
        walls.append((time.perf_counter() - w0) / inner)
        cpus.append((time.process_time() - c0) / inner)
    return {
        "wall_best_s": min(walls),
        "wall_median_s": float(np.median(walls)),
        "cpu_best_s": min(cpus),
    }


# --- (a) matmul --------------------------------------------------------------------------------


def matmul_rate(*, n: int, repeats: int) -> dict[str, float]:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    timing = _timed(lambda: a @ b, repeats=repeats)
    flops = 2.0 * n**3
    return {
        "n": n,
        "gflops_best": flops / timing["wall_best_s"] / 1e9,
        "gflops_median": flops / timing["wall_median_s"] / 1e9,
    }


# --- (b) ECGNet training step ------------------------------------------------------------------


def _train_step_fn(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: dict, y: torch.Tensor):
    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(model(inputs), y)
        loss.backward()
        optimizer.step()

    return step


def count_step_flops(model: nn.Module, inputs: dict, y: torch.Tensor) -> dict[str, float]:
    """Forward FLOPs and forward + backward FLOPs of one training step (counted, not estimated)."""
    model.train()
    with FlopCounterMode(display=False) as forward_counter:
        model(inputs)
    with FlopCounterMode(display=False) as step_counter:
        F.binary_cross_entropy_with_logits(model(inputs), y).backward()
    model.zero_grad(set_to_none=True)
    return {
        "forward_flops": float(forward_counter.get_total_flops()),
        "train_step_flops": float(step_counter.get_total_flops()),
    }


def ecgnet_training(
    kwargs: dict[str, Any], *, repeats: int, inner: int, seed: int = 0, layout: str = "as_trained"
) -> dict[str, Any]:
    """One training step of ECGNet; ``layout`` "as_trained" (what run_cv does) or "contiguous" (the peer)."""
    from cardiopredict.models import build_model

    torch.manual_seed(seed)
    model = build_model("ecgnet", **kwargs)
    if layout == "as_trained":
        model = in_training_layout(model)
    inputs = {"ecg": torch.randn(BATCH, N_LEADS, N_SAMPLES)}
    y = torch.randint(0, 2, (BATCH,)).float()
    flops = count_step_flops(model, inputs, y)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    step = _train_step_fn(model, optimizer, inputs, y)
    for _ in range(2):
        step()
    timing = _timed(step, repeats=max(repeats, 10), inner=inner, pause_s=0.5)
    result = {
        "model_kwargs": kwargs,
        "layout": layout if layout == "contiguous" else str(getattr(model, "memory_format", "contiguous")),
        "batch": BATCH,
        "parameters": sum(p.numel() for p in model.parameters()),
        **flops,
        **timing,
        "samples_per_s": BATCH / timing["wall_best_s"],
        "train_gflops": flops["train_step_flops"] / timing["wall_best_s"] / 1e9,
        "train_gflops_3x_forward": 3 * flops["forward_flops"] / timing["wall_best_s"] / 1e9,
    }
    return result


# --- (c) engine vs plain PyTorch vs lightning.Trainer -------------------------------------------


def _toy_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, N_LEADS, N_SAMPLES)).astype(np.float32)
    x[y == 1, :, 100:140] += 0.3
    return x, y


def _plain_cv(x: np.ndarray, y: np.ndarray, folds: np.ndarray, kwargs: dict, epochs: int, seed: int) -> None:
    """The reference: a plain PyTorch loop doing run_cv's work with early_stopping='none'."""
    from cardiopredict.models import build_model

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for k in np.unique(folds):
        torch.manual_seed(seed + int(k))
        model = in_training_layout(build_model("ecgnet", **kwargs))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        generator = torch.Generator().manual_seed(seed + int(k))
        fit = torch.from_numpy(np.flatnonzero(folds != k))
        test = torch.from_numpy(np.flatnonzero(folds == k))
        for _ in range(epochs):
            model.train()
            order = fit[torch.randperm(len(fit), generator=generator)]
            for start in range(0, len(order), BATCH):
                index = order[start : start + BATCH]
                loss = F.binary_cross_entropy_with_logits(model({"ecg": xt[index]}), yt[index].float())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.inference_mode():
                F.binary_cross_entropy_with_logits(model({"ecg": xt[test]}), yt[test].float())
        with torch.inference_mode():
            torch.sigmoid(model({"ecg": xt[test]}))


class _BatchDataset(torch.utils.data.Dataset):
    """Whole mini-batches by index list (``batch_size=None`` + a BatchSampler): no per-sample collate."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: list[int]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        index_t = torch.as_tensor(index)
        return {"ecg": self.x[index_t]}, self.y[index_t]


def _trainer_cv(
    x: np.ndarray, y: np.ndarray, folds: np.ndarray, kwargs: dict, epochs: int, seed: int
) -> None:
    import lightning
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

    from cardiopredict.training.module import ClassifierModule

    dataset = _BatchDataset(torch.from_numpy(x), torch.from_numpy(y))
    for k in np.unique(folds):
        torch.manual_seed(seed + int(k))
        module = ClassifierModule("ecgnet", kwargs, n_classes=2, learning_rate=1e-4)
        in_training_layout(module.model)
        fit = np.flatnonzero(folds != k).tolist()
        test = np.flatnonzero(folds == k).tolist()
        generator = torch.Generator().manual_seed(seed + int(k))
        train_sampler = BatchSampler(
            _Subset(fit, RandomSampler(range(len(fit)), generator=generator)), BATCH, drop_last=False
        )
        val_sampler = BatchSampler(_Subset(test, SequentialSampler(range(len(test)))), 512, drop_last=False)
        trainer = lightning.Trainer(
            max_epochs=epochs,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
        )
        trainer.fit(
            module,
            train_dataloaders=DataLoader(dataset, sampler=train_sampler, batch_size=None),
            val_dataloaders=DataLoader(dataset, sampler=val_sampler, batch_size=None),
        )
        module.eval()
        with torch.inference_mode():
            torch.sigmoid(module({"ecg": dataset.x[test]}))


class _Subset(torch.utils.data.Sampler):
    def __init__(self, rows: list[int], sampler: torch.utils.data.Sampler) -> None:
        self.rows, self.sampler = rows, sampler

    def __iter__(self):
        return (self.rows[i] for i in self.sampler)

    def __len__(self) -> int:
        return len(self.rows)


def framework_overhead(kwargs: dict, *, n: int, epochs: int, repeats: int, seed: int = 0) -> dict[str, Any]:
    """run_cv and Trainer.fit vs a plain loop: 2 folds, ``epochs`` epochs, validation every epoch."""
    import logging
    import warnings

    from cardiopredict.config import TrainingConfig
    from cardiopredict.training.crossval import make_folds, run_cv

    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    x, y = _toy_data(n, seed)
    pids = [f"P{i}" for i in range(n)]
    folds = make_folds(y, pids, n_folds=2, seed=seed)
    config = TrainingConfig(n_folds=2, max_epochs=epochs, early_stopping="none", seed=seed)

    def engine() -> None:
        run_cv({"ecg": x}, y, folds, patient_ids=pids, model="ecgnet", model_kwargs=kwargs, config=config)

    variants = {
        "plain_pytorch": lambda: _plain_cv(x, y, folds, kwargs, epochs, seed),
        "engine_run_cv": engine,
        "lightning_trainer": lambda: _trainer_cv(x, y, folds, kwargs, epochs, seed),
    }
    for fn in variants.values():  # warm-up (imports, allocator)
        fn()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):  # interleaved, so a burst of load hits every variant alike
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    best = {name: min(values) for name, values in samples.items()}
    return {
        "n_patients": n,
        "folds": 2,
        "epochs": epochs,
        "steps_per_epoch": int(np.ceil(n / 2 / BATCH)),
        "wall_best_s": best,
        "wall_median_s": {name: float(np.median(values)) for name, values in samples.items()},
        "overhead_vs_plain": {
            name: best[name] / best["plain_pytorch"] - 1.0 for name in variants if name != "plain_pytorch"
        },
    }


# --- (d) design choices ----------------------------------------------------------------------


class _Conv1dECGNet(nn.Module):
    """ECGNet with the leads folded into the batch, ``(batch * leads, 1, T)``, and Conv1d: the same
    function as the library's Conv2d-with-(1, k)-kernels version; timed only."""

    def __init__(
        self,
        *,
        kernel_size: int,
        pool_size: int,
        pooling: str,
        channels: tuple[int, ...] = (32, 64, 128),
        hidden_size: int = 128,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels, length = 1, N_SAMPLES
        for out_channels in channels:
            layers += [
                nn.Conv1d(in_channels, out_channels, kernel_size, padding="same", bias=False),
                nn.BatchNorm1d(out_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool1d(pool_size),
            ]
            in_channels, length = out_channels, length // pool_size
        self.blocks = nn.Sequential(*layers)
        self.pooling = pooling
        n_features = N_LEADS * in_channels * (length if pooling == "flatten" else 1)
        self.head = nn.Sequential(
            nn.Dropout(0.8),
            nn.Linear(n_features, hidden_size),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden_size, 1),
        )

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        x = inputs["ecg"]
        batch, n_leads, n_samples = x.shape
        features = self.blocks(x.reshape(batch * n_leads, 1, n_samples))
        if self.pooling == "avg":
            features = features.mean(dim=-1)
        return self.head(features.reshape(batch, -1)).squeeze(-1)


CHOICES = (  # (conv, kernel_size, pool_size, pooling, adam); "conv2d" is the library's ECGNet
    ("conv2d", 7, 4, "flatten", "fused"),
    ("conv1d", 7, 4, "flatten", "fused"),
    ("conv2d", 7, 4, "flatten", "foreach"),
    ("conv2d", 5, 4, "flatten", "fused"),
    ("conv2d", 3, 4, "flatten", "fused"),
    ("conv2d", 7, 3, "flatten", "fused"),
    ("conv1d", 7, 3, "flatten", "fused"),
    ("conv2d", 7, 2, "flatten", "fused"),
    ("conv1d", 7, 2, "flatten", "fused"),
    ("conv2d", 7, 2, "flatten", "foreach"),
    ("conv2d", 5, 2, "flatten", "fused"),
    ("conv2d", 3, 2, "flatten", "fused"),
    ("conv2d", 7, 2, "avg", "fused"),
)
QUICK_CHOICES = (CHOICES[0], CHOICES[1], CHOICES[7])


def design_choices(*, repeats: int, inner: int, choices=CHOICES) -> list[dict[str, Any]]:
    """Training-step time of each variant, timed in interleaved rounds (best of ``repeats``)."""
    from cardiopredict.models import build_model

    inputs = {"ecg": torch.randn(BATCH, N_LEADS, N_SAMPLES)}
    y = torch.randint(0, 2, (BATCH,)).float()
    specs, models, steps = [], [], []
    for conv, kernel_size, pool_size, pooling, adam in choices:
        torch.manual_seed(0)
        options = {"kernel_size": kernel_size, "pool_size": pool_size, "pooling": pooling}
        model = (
            in_training_layout(build_model("ecgnet", **options))
            if conv == "conv2d"
            else _Conv1dECGNet(**options)
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=adam == "fused")
        step = _train_step_fn(model, optimizer, inputs, y)
        step()
        specs.append({"conv": conv, **options, "adam": adam})
        models.append(model)
        steps.append(step)
    walls: list[list[float]] = [[] for _ in steps]
    cpus: list[list[float]] = [[] for _ in steps]
    for _ in range(repeats):  # interleaved rounds: a burst of load hits every variant alike
        for i, step in enumerate(steps):
            timing = _timed(step, repeats=1, inner=inner)
            walls[i].append(timing["wall_best_s"])
            cpus[i].append(timing["cpu_best_s"])
    results = []
    for spec, model, wall, cpu in zip(specs, models, walls, cpus, strict=True):
        flops = count_step_flops(model, inputs, y)
        best = min(wall)
        results.append(
            {
                **spec,
                "parameters": sum(p.numel() for p in model.parameters()),
                "train_step_flops": flops["train_step_flops"],
                "wall_best_ms": best * 1e3,
                "cpu_best_ms": min(cpu) * 1e3,
                "samples_per_s": BATCH / best,
                "train_gflops": flops["train_step_flops"] / best / 1e9,
            }
        )
    return results


# --- (e) AUC of the speed-motivated choices (optional, --auc) -----------------------------------


AUC_VARIANTS = (  # (input mode, kernel_size, pool_size, pooling)
    ("pre", 7, 4, "flatten"),
    ("pre", 7, 3, "flatten"),
    ("pre", 7, 2, "flatten"),
    ("pre", 7, 2, "avg"),
    ("combined", 7, 4, "flatten"),
    ("combined", 7, 2, "flatten"),
)


def crt_windows(cohort_dir: Path, *, n: int, seed: int) -> dict[str, np.ndarray]:
    """QRS windows (pre, post), labels and oracle of the synthetic CRT cohort (simulated once, cached)."""
    import pandas as pd

    from cardiopredict.cohort.synthetic import simulate_crt_cohort
    from cardiopredict.config import ECGWindowConfig
    from cardiopredict.features import FeatureCache, cohort_features

    manifest = cohort_dir / "manifest.csv"
    if not manifest.is_file():
        manifest = simulate_crt_cohort(cohort_dir, n=n, seed=seed, format="csv")
    table = pd.read_csv(manifest, dtype={"patient_id": str})
    for column in ("ecg_pre", "ecg_post"):
        table[column] = [str(manifest.parent / path) for path in table[column]]
    cache = FeatureCache(cohort_dir / "cache", ECGWindowConfig())
    features, exclusions = cohort_features(table, ["ecg_pre", "ecg_post"], cache)
    pids = [pid for pid in table["patient_id"] if pid not in exclusions]
    oracle = pd.read_csv(manifest.parent / "oracle.csv", dtype={"patient_id": str}).set_index("patient_id")
    return {
        "pre": np.stack([features["ecg_pre"][pid].qrs for pid in pids]),
        "post": np.stack([features["ecg_post"][pid].qrs for pid in pids]),
        "y": table.set_index("patient_id").loc[pids, "response"].to_numpy(int),
        "oracle": oracle.loc[pids, "p_response"].to_numpy(float),
        "pids": np.asarray(pids),
    }


def auc_of_choices(cohort_dir: Path, *, profile: str, variants=AUC_VARIANTS, seed: int = 0) -> dict[str, Any]:
    """Out-of-fold AUC and CPU time of ECGNet variants on the synthetic CRT cohort (same folds)."""
    from cardiopredict.config import StudyProfile
    from cardiopredict.training.crossval import auc_of, make_folds, run_cv

    data = crt_windows(cohort_dir, n=196, seed=seed)
    y, pids = data["y"], list(data["pids"])
    folds = make_folds(y, pids, n_folds=5, seed=seed)
    config = (StudyProfile.demo(seed=seed) if profile == "demo" else StudyProfile.paper(seed=seed)).training
    rows = []
    for mode, kernel_size, pool_size, pooling in variants:
        kwargs: dict[str, Any] = {"kernel_size": kernel_size, "pool_size": pool_size, "pooling": pooling}
        if mode == "combined":
            name, inputs = "ecgcomposite", {"pre": data["pre"], "post": data["post"]}
        else:
            name, inputs = "ecgnet", {"ecg": data[mode]}
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = run_cv(inputs, y, folds, patient_ids=pids, model=name, model_kwargs=kwargs, config=config)
        rows.append(
            {
                "mode": mode,
                **kwargs,
                "auc": auc_of(y, result.oof_scores, 2),
                "cpu_s": time.process_time() - cpu0,
                "wall_s": time.perf_counter() - wall0,
                "epochs_run": len(result.curves),
                "best_epochs": result.best_epochs,
            }
        )
        print(f"    {rows[-1]}", flush=True)
    return {
        "profile": profile,
        "n_patients": len(y),
        "oracle_auc": auc_of(y, data["oracle"], 2),
        "threads": torch.get_num_threads(),
        "variants": rows,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="write the results here (atomically)")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="torch threads (default: torch's)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer repeats/kernels (smoke test)")
    parser.add_argument(
        "--auc",
        type=Path,
        metavar="COHORT_DIR",
        help="also (e): AUC of the design choices on the synthetic CRT cohort simulated into COHORT_DIR "
        "(n=196, seed 0, csv; reused when present) — slow, ~10 min",
    )
    parser.add_argument("--auc-profile", choices=("demo", "paper"), default="demo")
    parser.add_argument("--skip-speed", action="store_true", help="only run (e)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = 2 if args.quick else args.repeats
    from cardiopredict.models import build_model

    default_kwargs: dict[str, Any] = {}
    started = time.perf_counter()
    load_before = os.getloadavg()
    results: dict[str, Any] = {
        "benchmark": "train_speed",
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "loadavg_before": load_before,
        "ecgnet_defaults": {
            k: v for k, v in vars(build_model("ecgnet")).items() if k in ("input_key", "n_leads", "n_samples")
        },
    }
    if args.auc is not None:
        print(f"(e) AUC of design choices ({args.auc_profile} profile) ...", flush=True)
        results["auc_of_choices"] = auc_of_choices(args.auc, profile=args.auc_profile)
    if args.skip_speed:
        results["runtime_s"] = time.perf_counter() - started
        if args.json:
            from cardiopredict._io import atomic_write_json

            atomic_write_json(args.json, results)
        return results
    print("(a) matmul ...", flush=True)
    results["matmul"] = matmul_rate(n=2048 if args.quick else 4096, repeats=repeats)
    print(f"    {results['matmul']['gflops_best']:.1f} GFLOP/s", flush=True)
    print("(b) ECGNet training step (defaults) ...", flush=True)
    training = ecgnet_training(default_kwargs, repeats=repeats, inner=2 if args.quick else 5)
    contiguous = ecgnet_training(
        default_kwargs, repeats=repeats, inner=2 if args.quick else 5, layout="contiguous"
    )
    for block in (training, contiguous):
        block["fraction_of_matmul"] = block["train_gflops"] / results["matmul"]["gflops_best"]
    results["ecgnet_training"] = training
    results["ecgnet_training_contiguous"] = contiguous
    results["ecgnet_layout_speedup"] = contiguous["wall_best_s"] / training["wall_best_s"]
    print(
        f"    {training['samples_per_s']:.0f} samples/s, {training['train_gflops']:.1f} GFLOP/s "
        f"({training['fraction_of_matmul']:.0%} of matmul; {training['layout']}); contiguous layout "
        f"{contiguous['samples_per_s']:.0f} samples/s ({contiguous['fraction_of_matmul']:.0%}), "
        f"{results['ecgnet_layout_speedup']:.2f}x",
        flush=True,
    )
    print("(c) engine / Trainer vs plain PyTorch ...", flush=True)
    n, epochs = (64, 2) if args.quick else (160, 5)
    results["framework"] = framework_overhead(default_kwargs, n=n, epochs=epochs, repeats=repeats)
    print(f"    ECGNet: overhead {results['framework']['overhead_vs_plain']}", flush=True)
    # A tiny network isolates the fixed cost per step/epoch that each framework adds.
    results["framework_tiny_model"] = framework_overhead(TINY, n=n, epochs=epochs, repeats=repeats)
    tiny = results["framework_tiny_model"]
    n_epochs = 2 * epochs
    tiny["fixed_cost_ms_per_epoch"] = {
        name: (tiny["wall_best_s"][name] - tiny["wall_best_s"]["plain_pytorch"]) / n_epochs * 1e3
        for name in ("engine_run_cv", "lightning_trainer")
    }
    print(f"    tiny model: added ms per epoch {tiny['fixed_cost_ms_per_epoch']}", flush=True)
    print("(d) design choices ...", flush=True)
    results["choices"] = design_choices(
        repeats=repeats, inner=1 if args.quick else 3, choices=QUICK_CHOICES if args.quick else CHOICES
    )
    for row in results["choices"]:
        print(
            f"    {row['conv']} k={row['kernel_size']} pool={row['pool_size']} {row['pooling']:7s} "
            f"adam={row['adam']}: {row['wall_best_ms']:.0f} ms/step ({row['cpu_best_ms']:.0f} ms CPU), "
            f"{row['samples_per_s']:.0f} samples/s, {row['train_gflops']:.1f} GFLOP/s",
            flush=True,
        )
    results["loadavg_after"] = os.getloadavg()
    results["runtime_s"] = time.perf_counter() - started
    if args.json:
        from cardiopredict._io import atomic_write_json

        atomic_write_json(args.json, results)
    print(json.dumps({k: results[k] for k in ("matmul", "framework", "framework_tiny_model")}, indent=1))
    return results


if __name__ == "__main__":
    main()
