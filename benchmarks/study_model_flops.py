"""Training FLOP rate of every network the ECG studies train, against the machine's matmul rate.

Usage::

    python benchmarks/study_model_flops.py --json study_model_flops.json

Measures, in one run, the fp32 matmul GFLOP/s and, for each study network at batch 32, the counted
forward + backward FLOPs of one training step, its best wall time and the resulting GFLOP/s (in the
memory layout ``run_cv`` trains it in, with the default contiguous layout beside it as the peer):
CRT ``pre``/``post`` (ECGNet, 250-sample QRS window), CRT ``combined`` (two trunks), cardiomyopathy
``qrs`` (ECGNet) and ``rr`` (QRS trunk + 500-sample RR-extended trunk + 4 RR scalars). Uses the helpers
of ``benchmarks/train_speed.py`` so the numbers are comparable with its ECGNet figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_speed import _timed, _train_step_fn, count_step_flops, in_training_layout, matmul_rate

BATCH = 32
NETWORKS = {
    "crt pre/post (ecgnet)": ("ecgnet", {"input_key": "ecg", "n_samples": 250}, {"ecg": (12, 250)}),
    "crt combined (ecgcomposite)": (
        "ecgcomposite",
        {"input_keys": ("pre", "post"), "n_samples": 250},
        {"pre": (12, 250), "post": (12, 250)},
    ),
    "cardiomyopathy qrs (ecgnet)": ("ecgnet", {"input_key": "ecg", "n_samples": 250}, {"ecg": (12, 250)}),
    "cardiomyopathy rr (ecgcomposite)": (
        "ecgcomposite",
        {"input_keys": ("qrs", "rr"), "n_samples": (250, 500), "n_scalars": 4, "scalars_key": "scalars"},
        {"qrs": (12, 250), "rr": (12, 500), "scalars": (4,)},
    ),
}


def network_rate(name: str, kwargs: dict, shapes: dict, *, repeats: int, trained_layout: bool = True) -> dict:
    """One study network's training step, in run_cv's layout unless ``trained_layout`` is off."""
    from cardiopredict.models import build_model

    torch.manual_seed(0)
    model = build_model(name, **kwargs)
    if trained_layout:
        model = in_training_layout(model)
    inputs = {key: torch.randn(BATCH, *shape) for key, shape in shapes.items()}
    y = torch.randint(0, 2, (BATCH,)).float()
    flops = count_step_flops(model, inputs, y)
    step = _train_step_fn(model, torch.optim.Adam(model.parameters(), lr=1e-4), inputs, y)
    for _ in range(2):
        step()
    timing = _timed(step, repeats=repeats, pause_s=0.3)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_step_gflop": round(flops["train_step_flops"] / 1e9, 3),
        "step_ms_best": round(timing["wall_best_s"] * 1000, 1),
        "samples_per_s": round(BATCH / timing["wall_best_s"], 1),
        "train_gflops": round(flops["train_step_flops"] / timing["wall_best_s"] / 1e9, 1),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    matmul = matmul_rate(n=4096, repeats=5)
    report: dict = {"benchmark": "study_model_flops", "threads": torch.get_num_threads(), "matmul": matmul}
    best = matmul["gflops_best"]
    report["networks"] = {}
    for label, (name, kwargs, shapes) in NETWORKS.items():
        result = network_rate(name, kwargs, shapes, repeats=args.repeats)
        result["share_of_matmul"] = round(result["train_gflops"] / best, 3)
        peer = network_rate(name, kwargs, shapes, repeats=args.repeats, trained_layout=False)
        result["contiguous_layout"] = {**peer, "share_of_matmul": round(peer["train_gflops"] / best, 3)}
        result["layout_speedup"] = round(peer["step_ms_best"] / result["step_ms_best"], 2)
        report["networks"][label] = result
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
