"""Bounded load on `cardiopredict serve`: two-ECG CRT predictions from 8 clients at a time, on 127.0.0.1.

The server runs in a subprocess (``run_server``, one torch thread per forward pass, ``--processes``
worker processes that score and draw; 0 = threads of the server process). Its memory (VmRSS and Pss
of the server and every process it started) and CPU time are read from /proc before, after a warm-up
(``2 * concurrency`` page loads) and after each phase. Each request posts a different patient's pre-
and post-implant ECG (CSV, cycling over the cohort). Two phases:

* ``predict``: ``--requests`` POSTs, ``--concurrency`` at a time; latency of the JSON answer, which links
  the figures (they are drawn when first fetched).
* ``page``: ``--page-requests`` full page loads at the same concurrency: the POST, then its three figures
  (12-lead grids of both ECGs, saliency) fetched in parallel as the page does; latency until the last
  figure arrived ("figures included").

``cpu_ms_per_request`` is the server's CPU time (all its processes) over a phase divided by its
requests: on a machine shared with other jobs it is steadier than the latency, and ``cores /
cpu_ms_per_request`` bounds the throughput.

Peer, same run: the same work called in-process (:func:`cardiopredict.serve.score`, then the three
figures), one request at a time; the ratio HTTP p50 / in-process p50 is the service's overhead under load.

Without ``--model`` a quick CRT model is trained on a SYNTHETIC 30-patient cohort first (not timed).

Usage:
  nice -n 10 python benchmarks/serve_load.py --json serve_load.json
  nice -n 10 python benchmarks/serve_load.py --processes 0 --json serve_load_threads.json
  python benchmarks/serve_load.py --model runs/demo/crt/models/combined --cohort runs/demo/cohorts/crt
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np

from cardiopredict._io import atomic_write_json, dumps_strict


def quick_model(folder: Path) -> tuple[Path, Path]:
    """Train the quick CRT model on a SYNTHETIC cohort; return (model dir, manifest)."""
    from cardiopredict.cohort.synthetic import simulate_crt_cohort
    from cardiopredict.config import StudyProfile
    from cardiopredict.studies.crt import run_crt_study

    manifest = simulate_crt_cohort(folder / "cohort", n=30, seed=11, format="csv")
    run_crt_study(
        manifest, folder / "run", inputs=("combined",), profile=StudyProfile.quick(seed=0), figures=False
    )
    return folder / "run" / "models" / "combined", manifest


def ecg_pairs(manifest: Path) -> list[tuple[bytes, bytes]]:
    import pandas as pd

    table = pd.read_csv(manifest, dtype=str)
    root = manifest.parent
    return [
        ((root / pre).read_bytes(), (root / post).read_bytes())
        for pre, post in zip(table["ecg_pre"], table["ecg_post"], strict=True)
    ]


def process_tree(pid: int) -> list[int]:
    """``pid`` and every live process below it (from the parent ids in /proc/*/stat)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def memory_mb(pid: int) -> dict[str, float]:
    """Memory of the server and its worker processes, MB: the sum of their resident sets (VmRSS; pages
    shared between processes, e.g. torch's libraries, count once per process) and of their
    proportional sets (Pss, /proc/*/smaps_rollup: shared pages split between the processes)."""
    total = {"rss": 0.0, "pss": 0.0}
    for member in process_tree(pid):
        for key, path, field in (("rss", "status", "VmRSS:"), ("pss", "smaps_rollup", "Pss:")):
            try:
                lines = Path(f"/proc/{member}/{path}").read_text().splitlines()
            except OSError:
                continue
            total[key] += sum(int(line.split()[1]) / 1024 for line in lines if line.startswith(field))
    return total


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of the server and its worker processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def start_server(model: Path, port: int, processes: int | None) -> subprocess.Popen:
    code = (
        "from cardiopredict.serve import run_server; "
        f"run_server([{str(model)!r}], host='127.0.0.1', port={port}, processes={processes!r})"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    import httpx

    deadline = time.monotonic() + 300  # worker processes load the models before the first answer
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not answer /healthz within 300 s")


def _post(client, url: str, pair: tuple[bytes, bytes]) -> tuple[float, int, dict]:
    """Latency, status (-1: no answer within the client's timeout) and JSON of one prediction."""
    import httpx

    started = time.perf_counter()
    try:
        response = client.post(url, files={"pre": ("pre.csv", pair[0]), "post": ("post.csv", pair[1])})
    except httpx.HTTPError:
        return time.perf_counter() - started, -1, {}
    elapsed = time.perf_counter() - started
    return elapsed, response.status_code, response.json() if response.status_code == 200 else {}


def _get_status(url: str) -> int:
    import httpx

    try:
        return httpx.get(url, timeout=300).status_code
    except httpx.HTTPError:
        return -1


def run_phase(base: str, pairs: list, n: int, concurrency: int, *, figures: bool, pid: int) -> dict:
    import httpx

    url = f"{base}/api/v1/models/crt-combined/predict"
    clients = [httpx.Client(base_url=base, timeout=300) for _ in range(concurrency)]

    def one(k: int) -> tuple[float, int]:
        client = clients[k % concurrency]
        started = time.perf_counter()
        elapsed, status, body = _post(client, url, pairs[k % len(pairs)])
        if not figures or status != 200:
            return elapsed, status
        with ThreadPoolExecutor(3) as pool:
            codes = list(pool.map(lambda link: _get_status(base + link), body["figures"].values()))
        bad = next((code for code in codes if code != 200), 200)
        return time.perf_counter() - started, bad

    started, cpu_started = time.perf_counter(), cpu_s(pid)
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - started
    cpu = cpu_s(pid) - cpu_started
    for client in clients:
        client.close()
    latency = np.array([r[0] for r in results]) * 1000
    errors = sum(r[1] != 200 for r in results)
    return {
        "requests": n,
        "concurrency": concurrency,
        "errors": int(errors),
        "p50_ms": round(float(np.percentile(latency, 50)), 1),
        "p95_ms": round(float(np.percentile(latency, 95)), 1),
        "max_ms": round(float(latency.max()), 1),
        "throughput_rps": round(n / wall, 2),
        "wall_s": round(wall, 1),
        "cpu_ms_per_request": round(1000 * cpu / n, 1),
    }


def in_process_peer(model: Path, pairs: list, n: int) -> dict:
    """The same work without HTTP, one at a time: the scoring (files written once, like the server
    does), then its three figures; latency and CPU time of each part."""
    import torch

    from cardiopredict.serve import load_model, score
    from cardiopredict.serve._figures import draw_figure, figure_job, figure_names

    torch.set_num_threads(1)  # as the server runs
    served = load_model(model, name="peer")
    parts: dict[str, list[tuple[float, float]]] = {}

    def timed(name: str, work) -> object:
        started, cpu = time.perf_counter(), time.process_time()
        value = work()
        parts.setdefault(name, []).append((time.perf_counter() - started, time.process_time() - cpu))
        return value

    with tempfile.TemporaryDirectory() as folder:
        for k in range(n + 2):  # the first two warm up (imports, first forward pass)
            pre, post = Path(folder) / "pre.csv", Path(folder) / "post.csv"
            pre.write_bytes(pairs[k % len(pairs)][0])
            post.write_bytes(pairs[k % len(pairs)][1])
            scored = timed("score", partial(score, served, {"pre": pre, "post": post}))
            for name in figure_names(scored):
                kind = name if name == "saliency" else "ecg_grid"
                timed(kind, partial(draw_figure, served, *figure_job(scored, name)))
            if k < 2:
                parts.clear()
    result = {"requests": n}
    for name, values in parts.items():
        wall, cpu = np.array(values).T * 1000
        result[name] = {
            "p50_ms": round(float(np.median(wall)), 1),
            "cpu_ms_mean": round(float(cpu.mean()), 1),
        }
    page = sum(np.median(np.array(v)[:, 0]) * (2 if k == "ecg_grid" else 1) for k, v in parts.items())
    result["page_p50_ms_sum_of_parts"] = round(1000 * float(page), 1)
    return result


def ig_nodes_check(model: Path, pairs: list, n: int = 5) -> dict:
    """Integrated gradients of the served figure (``IG_STEPS`` nodes) against 64 nodes, per patient:
    correlation and the largest deviation relative to the largest attribution; and the served copy of
    the network (batch norm folded, channels-last) against the plain ensemble, same nodes."""
    from cardiopredict.serve import load_model, score
    from cardiopredict.serve._figures import IG_STEPS, attributions_of

    served = load_model(model, name="check")
    plain = load_model(model, name="plain")
    plain.gradient_ensemble = plain.ensemble  # the network as trained, not the fused copy
    correlations, deviations, fused = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for k in range(n):
            pre, post = Path(folder) / "pre.csv", Path(folder) / "post.csv"
            pre.write_bytes(pairs[k % len(pairs)][0])
            post.write_bytes(pairs[k % len(pairs)][1])
            inputs = score(served, {"pre": pre, "post": post}).inputs
            few, many = (attributions_of(served, inputs, n_steps=m) for m in (IG_STEPS, 64))
            a = np.concatenate([few[key].ravel() for key in inputs])
            b = np.concatenate([many[key].ravel() for key in inputs])
            correlations.append(float(np.corrcoef(a, b)[0, 1]))
            deviations.append(float(np.abs(a - b).max() / np.abs(b).max()))
            reference = attributions_of(plain, inputs)
            c = np.concatenate([reference[key].ravel() for key in inputs])
            fused.append(float(np.abs(a - c).max() / np.abs(c).max()))
    return {
        "nodes": IG_STEPS,
        "reference_nodes": 64,
        "patients": n,
        "correlation_min": round(min(correlations), 4),
        "max_relative_deviation": round(max(deviations), 4),
        "fused_vs_plain_max_relative_deviation": float(f"{max(fused):.2g}"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="CRT combined model dir (default: train a quick one)")
    parser.add_argument("--cohort", type=Path, help="folder of manifest.csv with ecg_pre/ecg_post columns")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--page-requests", type=int, default=100)
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="server worker processes (default: one per core; 0: threads)",
    )
    parser.add_argument("--peer-requests", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    load_at_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="serve-load-") as folder:
        if args.model is None:
            model, manifest = quick_model(Path(folder))
        else:
            model, manifest = args.model, (args.cohort or Path(".")) / "manifest.csv"
        pairs = ecg_pairs(manifest)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = start_server(model, port, args.processes)
        base = f"http://127.0.0.1:{port}"
        phase = partial(run_phase, base, pairs, concurrency=args.concurrency, pid=server.pid)
        try:
            mem_start = memory_mb(server.pid)
            phase(2 * args.concurrency, figures=True)
            mem_warm = memory_mb(server.pid)
            predict = phase(args.requests, figures=False)
            mem_after = memory_mb(server.pid)
            page = phase(args.page_requests, figures=True)
            mem_page = memory_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        peer = in_process_peer(model, pairs, args.peer_requests)
        check = ig_nodes_check(model, pairs)
    result = {
        "benchmark": "serve_load",
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": "SYNTHETIC CRT cohort" if args.model is None else str(manifest),
        "model": str(model) if args.model else "quick CRT combined (2 folds), SYNTHETIC",
        "cpu_cores": len(os.sched_getaffinity(0)),
        "server_processes": (
            args.processes if args.processes is not None else min(len(os.sched_getaffinity(0)), 4)
        ),
        "load_average_1m_at_start": load_at_start,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "predict": predict,
        "page_with_figures": page,
        "in_process_peer": peer,
        "ig_nodes_check": check,
        "http_over_in_process_p50": round(predict["p50_ms"] / peer["score"]["p50_ms"], 2),
        "server_memory_mb": {
            kind: {
                "started": round(mem_start[kind], 1),
                "after_warmup": round(mem_warm[kind], 1),
                "after_predict_phase": round(mem_after[kind], 1),
                "after_page_phase": round(mem_page[kind], 1),
                "growth_predict_phase": round(mem_after[kind] - mem_warm[kind], 1),
                "growth_after_warmup": round(mem_page[kind] - mem_warm[kind], 1),
                "growth_total": round(mem_page[kind] - mem_start[kind], 1),
            }
            for kind in ("rss", "pss")
        },
        "goals": {"p95_ms": 400, "errors": 0, "rss_growth_mb": 50},
    }
    print(dumps_strict(result))
    if args.json:
        atomic_write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
