"""Bounded load on `cardiopredict serve`: two-ECG CRT predictions from 8 clients at a time, on 127.0.0.1.

The server runs in a subprocess (``run_server``, one torch thread per forward pass); its resident memory
(VmRSS) is read from /proc before, after a warm-up and after the run. Each request posts a different
patient's pre- and post-implant ECG (CSV, cycling over the cohort). Two phases:

* ``predict``: ``--requests`` POSTs, ``--concurrency`` at a time; latency of the JSON answer, which links
  the figures (they are drawn when first fetched).
* ``page``: ``--page-requests`` full page loads at the same concurrency: the POST, then its three figures
  (12-lead grids of both ECGs, saliency) fetched in parallel as the page does; latency until the last
  figure arrived ("figures included").

Peer, same run: the same scoring called in-process (:func:`cardiopredict.serve.score`, no HTTP), one
request at a time; the ratio HTTP p50 / in-process p50 is the service's overhead under load.

Without ``--model`` a quick CRT model is trained on a SYNTHETIC 30-patient cohort first (not timed).

Usage:
  nice -n 10 python benchmarks/serve_load.py --json serve_load.json
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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(model: Path, port: int) -> subprocess.Popen:
    code = (
        "from cardiopredict.serve import run_server; "
        f"run_server([{str(model)!r}], host='127.0.0.1', port={port})"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not answer /healthz within 120 s")


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


def run_phase(base: str, pairs: list, n: int, concurrency: int, *, figures: bool) -> dict:
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

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - started
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
    }


def in_process_peer(model: Path, pairs: list, n: int) -> dict:
    """The same scoring without HTTP, one at a time (files written once, like the server does)."""
    import torch

    from cardiopredict.serve import load_model, score

    torch.set_num_threads(1)  # as the server runs
    served = load_model(model, name="peer")
    latency = []
    with tempfile.TemporaryDirectory() as folder:
        for k in range(n):
            pre, post = Path(folder) / "pre.csv", Path(folder) / "post.csv"
            started = time.perf_counter()
            pre.write_bytes(pairs[k % len(pairs)][0])
            post.write_bytes(pairs[k % len(pairs)][1])
            score(served, {"pre": pre, "post": post})
            latency.append(1000 * (time.perf_counter() - started))
    return {
        "requests": n,
        "p50_ms": round(float(np.median(latency)), 1),
        "p95_ms": round(float(np.percentile(latency, 95)), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="CRT combined model dir (default: train a quick one)")
    parser.add_argument("--cohort", type=Path, help="folder of manifest.csv with ecg_pre/ecg_post columns")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--page-requests", type=int, default=24)
    parser.add_argument("--peer-requests", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="serve-load-") as folder:
        if args.model is None:
            model, manifest = quick_model(Path(folder))
        else:
            model, manifest = args.model, (args.cohort or Path(".")) / "manifest.csv"
        pairs = ecg_pairs(manifest)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = start_server(model, port)
        base = f"http://127.0.0.1:{port}"
        try:
            rss_start = rss_mb(server.pid)
            run_phase(base, pairs, 2 * args.concurrency, args.concurrency, figures=False)
            rss_warm = rss_mb(server.pid)
            predict = run_phase(base, pairs, args.requests, args.concurrency, figures=False)
            rss_after = rss_mb(server.pid)
            page = run_phase(base, pairs, args.page_requests, args.concurrency, figures=True)
            rss_page = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        peer = in_process_peer(model, pairs, args.peer_requests)
    result = {
        "benchmark": "serve_load",
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": "SYNTHETIC CRT cohort" if args.model is None else str(manifest),
        "model": str(model) if args.model else "quick CRT combined (2 folds), SYNTHETIC",
        "cpu_cores": len(os.sched_getaffinity(0)),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "predict": predict,
        "page_with_figures": page,
        "in_process_peer": peer,
        "http_over_in_process_p50": round(predict["p50_ms"] / peer["p50_ms"], 2),
        "server_rss_mb": {
            "started": round(rss_start, 1),
            "after_warmup": round(rss_warm, 1),
            "after_predict_phase": round(rss_after, 1),
            "after_page_phase": round(rss_page, 1),
            "growth_predict_phase": round(rss_after - rss_warm, 1),
            "growth_total": round(rss_page - rss_start, 1),
        },
        "goals": {"p95_ms": 400, "errors": 0, "rss_growth_mb": 50},
    }
    print(dumps_strict(result))
    if args.json:
        atomic_write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
