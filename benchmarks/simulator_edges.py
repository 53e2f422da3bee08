"""How the simulated QRS edges compare with LUDB's cardiologist-marked ones, and the fit of the
simulator's edge ramp (``cardiopredict.ecg.simulate.QRS_EDGE_RAMP``) to them. Prints JSON.

For every beat, on the spatial velocity ``sv`` of ``delineation_ludb.py`` (0.5-40 Hz, I, II, V1-V6, 8 ms
smoothing) between the marked (LUDB: earliest/latest of the 12 per-lead marks) or designed (simulator)
onset and offset: ``sv`` at the onset and at the offset as % of the beat's peak, and the ms from the
onset until ``sv`` first reaches 4 / 10 / 50 % of the peak and from the offset back until it does. Beats
are grouped by QRS duration (< 100, 100-120, 120-140, >= 140 ms). The distance of the simulator to LUDB
is, per band, the mean over the eight features of the summed absolute differences of the quartiles
divided by LUDB's interquartile range, averaged over the bands. No delineator is involved. A longer ramp
gives slower edges and a faster middle (``1 / (1 - ramp)``), which compresses the designed notches. The
shipped value is 0.35 since 2026-12-02, with the phenotypes re-designed so that their criteria in
``tests/ecg/test_simulate.py`` hold with it (docs/BENCHMARKS.md, section 10); the other ramps of the grid
render those re-designed phenotypes.

Usage::

    python benchmarks/simulator_edges.py --ludb /path/to/ludb [--ramps 0,0.2,0.3,0.35,0.4,0.5] [--seeds 3]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np

from _report import emit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import delineation_ludb as bench

FEATURES = (
    "sv_onset_pct",
    "sv_offset_pct",
    "onset_to_4pct_ms",
    "onset_to_10pct_ms",
    "onset_to_50pct_ms",
    "offset_back_to_4pct_ms",
    "offset_back_to_10pct_ms",
    "offset_back_to_50pct_ms",
)
BANDS_MS = ((0, 100), (100, 120), (120, 140), (140, 400))


def edge_features(sv: np.ndarray, onset: int, offset: int, fs: float) -> list[float] | None:
    """The eight features of one beat (``offset`` exclusive) and its duration in ms, or None near an end."""
    margin = round(0.25 * fs)
    if onset < margin or offset + margin > len(sv) or offset - onset < 4:
        return None
    peak_at = onset + int(np.argmax(sv[onset:offset]))
    peak = float(sv[peak_at])
    rise, fall = sv[onset : peak_at + 1] / peak, sv[peak_at:offset][::-1] / peak
    ms = 1000.0 / fs

    def reach(curve: np.ndarray, level: float) -> float:
        return float(np.argmax(curve >= level)) * ms

    return [
        100 * float(sv[onset]) / peak,
        100 * float(sv[offset - 1]) / peak,
        *(reach(rise, level) for level in (0.04, 0.10, 0.50)),
        *(reach(fall, level) for level in (0.04, 0.10, 0.50)),
        (offset - onset) * ms,
    ]


def ludb_rows(ludb: Path) -> np.ndarray:
    names = bench.record_names(ludb)
    return np.asarray([row for beat in bench.marked_beats(ludb, names) if (row := edge_features(*beat))])


def simulator_rows(seeds: int) -> np.ndarray:
    return np.asarray([row for beat in bench.designed_beats(seeds) if (row := edge_features(*beat))])


def _band(rows: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return rows[(rows[:, -1] >= lo) & (rows[:, -1] < hi), :-1]


def distance(sim: np.ndarray, ludb: np.ndarray) -> tuple[float, list[float]]:
    per_band = []
    for lo, hi in BANDS_MS:
        s, r = _band(sim, lo, hi), _band(ludb, lo, hi)
        if len(s) >= 10 and len(r) >= 10:
            qs, qr = np.percentile(s, [25, 50, 75], axis=0), np.percentile(r, [25, 50, 75], axis=0)
            per_band.append(float((np.abs(qs - qr) / (qr[2] - qr[0] + 1e-9)).sum(axis=0).mean()))
    return float(np.mean(per_band)), [round(d, 3) for d in per_band]


def medians(rows: np.ndarray) -> dict[str, dict[str, float]]:
    out = {}
    for lo, hi in BANDS_MS:
        band = _band(rows, lo, hi)
        out[f"{lo}-{hi} ms"] = (
            {"beats": len(band)}
            | {name: round(float(v), 1) for name, v in zip(FEATURES, np.median(band, axis=0), strict=True)}
            if len(band)
            else {"beats": 0}
        )
    return out


def main(argv: list[str] | None = None) -> int:
    import cardiopredict.ecg.simulate as simulate

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ludb", type=Path, required=True)
    parser.add_argument("--ramps", default="0,0.1,0.2,0.25,0.3,0.35,0.4,0.45,0.5")
    parser.add_argument("--seeds", type=int, default=3, help="simulated records per phenotype")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    ludb = ludb_rows(args.ludb)
    shipped = simulate.QRS_EDGE_RAMP
    grid = {}
    for ramp in (float(w) for w in args.ramps.split(",")):
        simulate.QRS_EDGE_RAMP = ramp
        rows = simulator_rows(args.seeds)
        total, per_band = distance(rows, ludb)
        grid[f"{ramp:g}"] = {"distance": round(total, 3), "per_band": per_band, "medians": medians(rows)}
    simulate.QRS_EDGE_RAMP = shipped
    result = {
        "ludb_beats": len(ludb),
        "ludb_medians": medians(ludb),
        "shipped_ramp": shipped,
        "grid": grid,
        "meta": {
            "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": " ".join(["python", "benchmarks/simulator_edges.py", *(argv or sys.argv[1:])]),
        },
    }
    emit(result, args.json, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
