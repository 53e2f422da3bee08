"""Global QRS delineation on LUDB: cardiopredict vs NeuroKit2 (dwt, per lead) vs prominence-delineator.

Truth per beat (cardiologists' per-lead marks): the earliest QRS onset and the latest QRS offset over the
12 leads' annotations of that beat. Only detections and true beats inside the annotated span of each record
(first to last annotation of any wave, any lead) are compared; a detection matches a true QRS when their
centres ((onset + offset) / 2) are within 150 ms (greedy one-to-one, nearest first). Peers run per lead
and are combined the same global way (earliest onset, latest offset over the leads' beats that fall on the
same QRS).

Usage::

    python benchmarks/delineation_ludb.py --ludb /path/to/ludb --json out.json [--limit N]
        [--methods cardiopredict,cardiopredict-edge,neurokit2,prominence] [--records 1-75]

Prints JSON ``{"records", "methods": {name: {"sensitivity", "ppv", "onset_error_ms", "offset_error_ms",
"qrs_duration_error_ms", "seconds_per_record", ...}}, "speedup_vs": {...}}``. Each peer also reports a
``<name>-median`` variant from the same run (median over leads instead of earliest/latest). cardiopredict
reports only the beats it marks valid; ``cardiopredict-edge`` is the same delineator with its
opt-in calibrated edge model (``delineate(record, edge_model=True)``). Timings exclude file reading and
a first warm-up call; peers' R peaks come from NeuroKit2's default detector (``ecg_peaks``), and
prominence-delineator uses it too when its optional detector (vg-beat-detectors) is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

LUDB_LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
MATCH_MS = 150.0
ALL_METHODS = ("cardiopredict", "cardiopredict-edge", "neurokit2", "prominence")


# --- data ------------------------------------------------------------------------------------
def record_names(ludb: Path) -> list[str]:
    """Record names of a LUDB-layout folder, numerically sorted."""
    names = [p.stem for p in (ludb / "data").glob("*.hea")]
    return sorted(names, key=lambda s: (0, int(s)) if s.isdigit() else (1, s))


def load_record(ludb: Path, name: str):
    """ECGRecord of one LUDB record (via cardiopredict.read_ecg when available)."""
    try:
        from cardiopredict.ecg.io import read_ecg

        return read_ecg(ludb / "data" / f"{name}.hea", record_id=name)
    except ImportError:
        import wfdb

        from cardiopredict.ecg.leads import to_canonical_leads
        from cardiopredict.ecg.record import ECGRecord

        signal, info = wfdb.rdsamp(str(ludb / "data" / name))
        stacked, leads, _derived = to_canonical_leads(signal.T, info["sig_name"])
        return ECGRecord(stacked, float(info["fs"]), leads, record_id=name, meta={"format": "wfdb"})


def load_truth(ludb: Path, name: str, fs: float) -> dict[str, np.ndarray | tuple[int, int]]:
    """Global QRS onsets/offsets (earliest/latest over leads) and the annotated span."""
    import wfdb

    triples: list[tuple[int, int, int]] = []
    first, last = np.inf, -np.inf
    for lead in LUDB_LEADS:
        path = ludb / "data" / f"{name}.{lead}"
        if not path.exists():
            continue
        ann = wfdb.rdann(str(ludb / "data" / name), lead)
        symbols, samples = list(ann.symbol), np.asarray(ann.sample)
        if len(samples):
            first, last = min(first, samples.min()), max(last, samples.max())
        for i, symbol in enumerate(symbols):
            if symbol == "N" and 0 < i < len(symbols) - 1 and symbols[i - 1] == "(" and symbols[i + 1] == ")":
                triples.append((int(samples[i - 1]), int(samples[i]), int(samples[i + 1])))
    triples.sort(key=lambda t: t[1])
    onsets, offsets = [], []
    gap = int(0.15 * fs)
    group: list[tuple[int, int, int]] = []
    for triple in triples:
        if group and triple[1] - group[0][1] > gap:
            onsets.append(min(t[0] for t in group))
            offsets.append(max(t[2] for t in group))
            group = []
        group.append(triple)
    if group:
        onsets.append(min(t[0] for t in group))
        offsets.append(max(t[2] for t in group))
    return {"onsets": np.array(onsets), "offsets": np.array(offsets), "span": (int(first), int(last))}


# --- methods ---------------------------------------------------------------------------------
def run_cardiopredict(record) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from cardiopredict.ecg import delineate

    d = delineate(record)
    return {"cardiopredict": (d.qrs_onsets[d.valid], d.qrs_offsets[d.valid])}


def run_cardiopredict_edge(record) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from cardiopredict.ecg import delineate

    d = delineate(record, edge_model=True)
    return {"cardiopredict-edge": (d.qrs_onsets[d.valid], d.qrs_offsets[d.valid])}


def _combine_leads(
    per_lead: list[tuple[np.ndarray, np.ndarray]], fs: float, *, how: str = "extreme"
) -> tuple[np.ndarray, np.ndarray]:
    """Group per-lead (onset, offset) beats by centre; earliest onset, latest offset per group.

    A group must hold beats from at least half of the leads (a QRS seen in one lead only is noise).
    ``how="median"`` takes the median onset/offset over the leads instead (kinder to a method whose
    per-lead marks scatter; reported as an extra, labelled variant).
    """
    items = []
    for lead, (on, off) in enumerate(per_lead):
        for a, b in zip(on, off, strict=True):
            if np.isfinite(a) and np.isfinite(b) and b > a:
                items.append(((a + b) / 2, a, b, lead))
    items.sort()
    groups: list[list[tuple]] = []
    for item in items:
        if groups and item[0] - groups[-1][0][0] <= 0.1 * fs:
            groups[-1].append(item)
        else:
            groups.append([item])
    min_leads = max(1, len(per_lead) // 2)
    kept = [g for g in groups if len({i[3] for i in g}) >= min_leads]
    first, last = (np.median, np.median) if how == "median" else (min, max)
    onsets = [first([i[1] for i in g]) for g in kept]
    offsets = [last([i[2] for i in g]) for g in kept]
    return np.array(onsets, dtype=float), np.array(offsets, dtype=float)


def _both(name: str, per_lead: list, fs: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {name: _combine_leads(per_lead, fs), f"{name}-median": _combine_leads(per_lead, fs, how="median")}


def run_neurokit2(record) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    import neurokit2 as nk

    fs = record.fs
    per_lead = []
    for lead in record.signal.astype(float):
        try:
            cleaned = nk.ecg_clean(lead, sampling_rate=fs)
            _, info = nk.ecg_peaks(cleaned, sampling_rate=fs)
            rpeaks = info["ECG_R_Peaks"]
            _, waves = nk.ecg_delineate(cleaned, rpeaks, sampling_rate=fs, method="dwt")
            on = np.asarray(waves["ECG_R_Onsets"], dtype=float)
            off = np.asarray(waves["ECG_R_Offsets"], dtype=float)
            n = min(len(on), len(off))
            per_lead.append((on[:n], off[:n]))
        except Exception:  # a peer failing on one lead counts as no detections in that lead
            per_lead.append((np.array([]), np.array([])))
    return _both("neurokit2", per_lead, fs)


def run_prominence(record) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    import neurokit2 as nk
    from prominence_delineator import ProminenceDelineator

    fs = record.fs
    model = ProminenceDelineator(sampling_frequency=fs)
    per_lead = []
    for lead in record.signal.astype(float):
        try:
            cleaned = model.clean_ecg(lead)
            try:
                rpeaks = model.find_rpeaks(cleaned)
            except ImportError:  # its own R detector (vg-beat-detectors) is optional; use NeuroKit's
                rpeaks = nk.ecg_peaks(cleaned, sampling_rate=fs)[1]["ECG_R_Peaks"]
            waves = model.find_waves(cleaned, rpeaks=np.asarray(rpeaks), include_nodetections=True)
            on = np.array([np.nan if v is None else v for v in waves["R_on"]], dtype=float)
            off = np.array([np.nan if v is None else v for v in waves["R_off"]], dtype=float)
            per_lead.append((on, off))
        except Exception:
            per_lead.append((np.array([]), np.array([])))
    return _both("prominence", per_lead, fs)


RUNNERS = {
    "cardiopredict": run_cardiopredict,
    "cardiopredict-edge": run_cardiopredict_edge,
    "neurokit2": run_neurokit2,
    "prominence": run_prominence,
}


# --- scoring ---------------------------------------------------------------------------------
def match(truth: dict, onsets: np.ndarray, offsets: np.ndarray, fs: float) -> dict[str, list]:
    """Match detections to true beats inside the annotated span; return counts and paired errors (ms)."""
    lo, hi = truth["span"]
    true_on, true_off = truth["onsets"], truth["offsets"]
    true_c = (true_on + true_off) / 2
    det_c = (np.asarray(onsets, float) + np.asarray(offsets, float)) / 2
    inside_t = (true_c >= lo) & (true_c <= hi)
    inside_d = (det_c >= lo) & (det_c <= hi)
    tol = MATCH_MS * fs / 1000
    pairs = sorted(
        (abs(true_c[i] - det_c[j]), i, j)
        for i in np.flatnonzero(inside_t)
        for j in np.flatnonzero(inside_d)
        if abs(true_c[i] - det_c[j]) <= tol
    )
    used_t, used_d, matched = set(), set(), []
    for _, i, j in pairs:
        if i not in used_t and j not in used_d:
            used_t.add(i)
            used_d.add(j)
            matched.append((i, j))
    scale = 1000 / fs
    return {
        "tp": len(matched),
        "n_true": int(inside_t.sum()),
        "n_detected": int(inside_d.sum()),
        "onset": [(onsets[j] - true_on[i]) * scale for i, j in matched],
        "offset": [(offsets[j] - true_off[i]) * scale for i, j in matched],
        "duration": [((offsets[j] - onsets[j]) - (true_off[i] - true_on[i])) * scale for i, j in matched],
    }


def _stats(errors: list[float]) -> dict[str, float | None]:
    if not errors:
        return {"mean": None, "sd": None, "mae": None, "n": 0}
    e = np.asarray(errors, dtype=float)
    return {
        "mean": round(float(e.mean()), 2),
        "sd": round(float(e.std(ddof=1)) if len(e) > 1 else 0.0, 2),
        "mae": round(float(np.abs(e).mean()), 2),
        "n": len(e),
    }


def _empty() -> dict:
    return {"tp": 0, "n_true": 0, "n_detected": 0, "onset": [], "offset": [], "duration": [], "seconds": 0.0}


def evaluate(ludb: Path, names: list[str], methods: list[str], *, progress: bool = True) -> dict:
    """Run every method on every record; return the benchmark dictionary.

    A peer reports two variants from the same run: ``<name>`` (earliest onset / latest offset over the
    leads, the benchmark's definition) and ``<name>-median`` (median over the leads).
    """
    totals: dict[str, dict] = {}
    failures: dict[str, list[str]] = {m: [] for m in methods}
    records = [(name, load_record(ludb, name)) for name in names]
    for method in methods:  # warm-up (imports, caches), not timed
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.suppress(Exception):
                RUNNERS[method](records[0][1])
    for index, (name, record) in enumerate(records):
        truth = load_truth(ludb, name, record.fs)
        for method in methods:
            started = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    variants = RUNNERS[method](record)
            except Exception as error:  # a failed record counts as zero detections
                failures[method].append(f"{name}: {type(error).__name__}: {error}")
                variants = {method: (np.array([]), np.array([]))}
            elapsed = time.perf_counter() - started
            for variant, (onsets, offsets) in variants.items():
                t = totals.setdefault(variant, _empty())
                t["seconds"] += elapsed
                result = match(truth, onsets, offsets, record.fs)
                for key in ("tp", "n_true", "n_detected"):
                    t[key] += result[key]
                for key in ("onset", "offset", "duration"):
                    t[key].extend(result[key])
        if progress:
            print(f"\r{index + 1}/{len(records)} records", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    out: dict = {"records": len(records), "methods": {}}
    for variant, t in totals.items():
        base = variant.removesuffix("-median")
        out["methods"][variant] = {
            "sensitivity": round(t["tp"] / t["n_true"], 5) if t["n_true"] else None,
            "ppv": round(t["tp"] / t["n_detected"], 5) if t["n_detected"] else None,
            "onset_error_ms": _stats(t["onset"]),
            "offset_error_ms": _stats(t["offset"]),
            "qrs_duration_error_ms": _stats(t["duration"]),
            "seconds_per_record": round(t["seconds"] / max(len(records), 1), 5),
            "records_per_second": round(len(records) / t["seconds"], 2) if t["seconds"] else None,
            "true_beats": t["n_true"],
            "detected_beats": t["n_detected"],
            "failed_records": failures.get(base, []),
        }
    if "cardiopredict" in out["methods"]:
        ours = out["methods"]["cardiopredict"]["seconds_per_record"]
        out["speedup_vs"] = {
            m: round(out["methods"][m]["seconds_per_record"] / ours, 1)
            for m in methods
            if not m.startswith("cardiopredict") and m in out["methods"]
        }
    return out


def _parse_records(spec: str | None, names: list[str]) -> list[str]:
    if not spec:
        return names
    wanted: set[str] = set()
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            wanted |= {str(i) for i in range(int(a), int(b) + 1)}
        else:
            wanted.add(part.strip())
    return [n for n in names if n in wanted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--ludb", type=Path, required=True, help="LUDB-layout folder (data/<n>.hea + annotations)"
    )
    parser.add_argument("--json", type=Path, help="write the result here (atomically)")
    parser.add_argument("--limit", type=int, help="use only the first N records")
    parser.add_argument("--records", help="record subset, e.g. '1-75' or '3,8,12'")
    parser.add_argument(
        "--methods", default=",".join(ALL_METHODS), help=f"comma list of {', '.join(ALL_METHODS)}"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in RUNNERS]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {', '.join(ALL_METHODS)}")
    names = _parse_records(args.records, record_names(args.ludb))
    if args.limit:
        names = names[: args.limit]
    if not names:
        parser.error(f"no LUDB records found under {args.ludb / 'data'}")
    result = evaluate(args.ludb, names, methods, progress=not args.quiet)
    result["meta"] = {
        "ludb": str(args.ludb),
        "record_names": f"{names[0]}..{names[-1]}",
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "command": " ".join(["python", "benchmarks/delineation_ludb.py", *(argv or sys.argv[1:])]),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=args.json.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
