"""ECG file I/O speed: cardiopredict's readers/writers vs the plain library calls they replace.

Peers, measured in the same run on the same 12 x 5000 record (10 s at 500 Hz, LUDB record 1 when the
shared data is present, else a synthetic one):

* xlsx read: ``read_ecg`` (python-calamine) vs ``pandas.read_excel(engine="openpyxl")``;
* xlsx write: ``write_ecg`` (xlsxwriter, streamed) vs ``pandas.DataFrame.to_excel(engine="openpyxl")``;
* csv read: ``read_ecg`` vs ``pandas.read_csv``; csv write: ``write_ecg`` vs ``DataFrame.to_csv``;
* WFDB read: ``read_ecg`` (checksums, units, canonical leads, quality flags) vs ``wfdb.rdrecord``.

Usage::

    python benchmarks/ecg_io.py [--repeats 5] [--json out.json]

Prints JSON ``{"record", "repeats", "seconds": {case: {"cardiopredict", "peer", "ratio_peer_over_ours"}}}``
(best of ``repeats`` wall-clock seconds per call).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb

from cardiopredict import read_ecg, write_ecg
from cardiopredict.ecg.leads import CANONICAL_LEADS
from cardiopredict.ecg.record import ECGRecord

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("CARDIOPREDICT_DATA", REPO_ROOT.parent / "shared" / "data"))
LUDB_RECORD = DATA_ROOT / "ecg" / "ludb" / "data" / "1.hea"


def best_of(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()

    if LUDB_RECORD.is_file():
        record, source = read_ecg(LUDB_RECORD), str(LUDB_RECORD)
    else:
        rng = np.random.default_rng(0)
        record = ECGRecord(signal=rng.standard_normal((12, 5000)).astype(np.float32) * 0.3, fs=500.0)
        source = "synthetic 12 x 5000"
    frame = pd.DataFrame(record.signal.T, columns=list(CANONICAL_LEADS))

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours_xlsx, peer_xlsx = folder / "ours.xlsx", folder / "peer.xlsx"
        ours_csv, peer_csv = folder / "ours.csv", folder / "peer.csv"
        cases = {
            "xlsx_write": (
                lambda: write_ecg(record, ours_xlsx),
                lambda: frame.to_excel(peer_xlsx, index=False, engine="openpyxl"),
            ),
            "xlsx_read": (
                lambda: read_ecg(ours_xlsx),
                lambda: pd.read_excel(peer_xlsx, engine="openpyxl"),
            ),
            "csv_write": (lambda: write_ecg(record, ours_csv), lambda: frame.to_csv(peer_csv, index=False)),
            "csv_read": (lambda: read_ecg(ours_csv), lambda: pd.read_csv(peer_csv)),
        }
        if LUDB_RECORD.is_file():
            cases["wfdb_read"] = (
                lambda: read_ecg(LUDB_RECORD),
                lambda: wfdb.rdrecord(str(LUDB_RECORD.with_suffix(""))),
            )
        for name, (ours, peer) in cases.items():
            ours(), peer()  # warm-up, and the write cases create the files the read cases use
            ours_s, peer_s = best_of(ours, args.repeats), best_of(peer, args.repeats)
            results[name] = {
                "cardiopredict": round(ours_s, 4),
                "peer": round(peer_s, 4),
                "ratio_peer_over_ours": round(peer_s / ours_s, 2),
            }
    report = {
        "record": source,
        "repeats": args.repeats,
        "date": dt.date.today().isoformat(),
        "machine": platform.platform(),
        "peers": {
            "xlsx_write": "pandas.to_excel(openpyxl)",
            "xlsx_read": "pandas.read_excel(openpyxl)",
            "csv_write": "pandas.to_csv",
            "csv_read": "pandas.read_csv",
            "wfdb_read": "wfdb.rdrecord",
        },
        "seconds": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
