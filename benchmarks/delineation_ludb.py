"""Global QRS delineation on LUDB: cardiopredict (default, legacy) vs NeuroKit2 vs prominence-delineator,
plus the simulator cross-check and the edge profile that explains why the two checks disagree.

Truth per beat (cardiologists' per-lead marks): the earliest QRS onset and the latest QRS offset over the
12 leads' annotations of that beat. Only detections and true beats inside the annotated span of each record
(first to last annotation of any wave, any lead) are compared; a detection matches a true QRS when their
centres ((onset + offset) / 2) are within 150 ms (greedy one-to-one, nearest first). Peers run per lead
and are combined the same global way (earliest onset, latest offset over the leads' beats that fall on the
same QRS).

Usage::

    python benchmarks/delineation_ludb.py --ludb /path/to/ludb --json out.json [--limit N]
        [--methods cardiopredict,cardiopredict-legacy,neurokit2,prominence] [--records 1-75]
        [--sim-seeds 3] [--sim-noise 0,1,3] [--sim-edge-ramp 0.35]

Prints JSON ``{"records", "methods": {name: {"sensitivity", "ppv", "onset_error_ms", "offset_error_ms",
"qrs_duration_error_ms", "seconds_per_record", ...}}, "speedup_vs": {...}, "agreement": {name: {"beats",
"records", "threshold_crossings"}}, "simulator": {...}, "edge_profile": {...}}``. Each peer also reports a
``<name>-median`` variant from the same run (median over leads instead of earliest/latest). cardiopredict
reports only the beats it marks valid: ``cardiopredict`` is ``delineate(record)`` (the default),
``cardiopredict-legacy`` ``DelineationParams.legacy()`` (threshold edges, the default until 2026-12-01) and
``cardiopredict-calibrated`` ``DelineationParams.calibrated()`` (the calibrated edge model).
``agreement`` is the QRS duration as clinicians read it: Bland-Altman mean and 95 % limits of agreement of
the beat and record durations (record: median over its matched beats) against the cardiologists', and the
records whose duration falls on the other side of 120 / 130 / 150 ms from the cardiologists'.
``simulator`` delineates ``simulate_ecg`` records of every phenotype (``--sim-seeds`` each) with the
simulator's noise scaled by each ``--sim-noise`` factor (and its QRS edges slowed by ``--sim-edge-ramp``,
``cardiopredict.ecg.simulate.QRS_EDGE_RAMP``) and reports the read minus the designed QRS duration.
``edge_profile`` is the spatial velocity (0.5-40 Hz, 8 leads, as the delineator computes it) at the marked
edges as a percentage of the beat's peak, and how long after the marked onset it reaches 4 % / 10 %, on
LUDB (cardiologists' marks) and on the simulator (designed edges). Timings exclude file reading and a first
warm-up call; peers' R peaks come from NeuroKit2's default detector (``ecg_peaks``), and
prominence-delineator uses it too when its optional detector (vg-beat-detectors) is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import platform
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from _report import emit

LUDB_LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
MATCH_MS = 150.0
ALL_METHODS = ("cardiopredict", "cardiopredict-legacy", "neurokit2", "prominence")
CARDIOPREDICT = ("cardiopredict", "cardiopredict-legacy", "cardiopredict-calibrated")
THRESHOLDS_MS = (120.0, 130.0, 150.0)


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


def load_truth(ludb: Path, name: str, fs: float, *, rank: int = 0) -> dict[str, np.ndarray | tuple[int, int]]:
    """Global QRS onsets/offsets (earliest/latest over leads) and the annotated span.

    ``rank`` > 0 takes the (rank + 1)-th earliest onset and latest offset of a beat's lead marks
    instead (a sensitivity analysis of how much one lead's outlying mark moves the truth; 0 is the
    benchmark's definition).
    """
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
    onsets, offsets = _ranked_edges(triples, int(0.15 * fs), rank)
    return {"onsets": np.array(onsets), "offsets": np.array(offsets), "span": (int(first), int(last))}


def _ranked_edges(triples: list[tuple[int, int, int]], gap: int, rank: int) -> tuple[list, list]:
    """Lead marks grouped into beats (R marks within ``gap`` samples of the beat's first); per beat the
    (rank + 1)-th earliest onset and latest offset (rank 0: the earliest and the latest)."""
    groups: list[list[tuple[int, int, int]]] = []
    for triple in triples:
        if groups and triple[1] - groups[-1][0][1] <= gap:
            groups[-1].append(triple)
        else:
            groups.append([triple])
    onsets = [sorted(t[0] for t in g)[min(rank, len(g) - 1)] for g in groups]
    offsets = [sorted((t[2] for t in g), reverse=True)[min(rank, len(g) - 1)] for g in groups]
    return onsets, offsets


# --- methods ---------------------------------------------------------------------------------
def _params(method: str):
    from cardiopredict.ecg.delineation import DelineationParams

    presets = {"cardiopredict": DelineationParams, "cardiopredict-legacy": DelineationParams.legacy}
    return presets.get(method, DelineationParams.calibrated)()


def _runner(method: str):
    def run(record) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        from cardiopredict.ecg.delineation import delineate

        d = delineate(record, params=_params(method))
        return {method: (d.qrs_onsets[d.valid], d.qrs_offsets[d.valid])}

    return run


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
    **{method: _runner(method) for method in CARDIOPREDICT},
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
        "true_duration": [(true_off[i] - true_on[i]) * scale for i, j in matched],
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
    return {
        "tp": 0, "n_true": 0, "n_detected": 0, "onset": [], "offset": [], "duration": [], "true_duration": [],
        "records": [], "beat_record": [], "seconds": 0.0,
    }  # fmt: skip


def _bland_altman(ours: np.ndarray, truth: np.ndarray) -> dict[str, float | int | None]:
    """Mean difference (ours - truth, ms) and its 95 % limits of agreement (mean ± 1.96 SD)."""
    if len(ours) < 2:
        return {"n": len(ours), "mean": None, "sd": None, "loa_low": None, "loa_high": None}
    diff = ours - truth
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    return {
        "n": len(diff),
        "mean": round(mean, 2),
        "sd": round(sd, 2),
        "loa_low": round(mean - 1.96 * sd, 2),
        "loa_high": round(mean + 1.96 * sd, 2),
    }


def agreement(t: dict) -> dict:
    """QRS duration as clinicians read it: Bland-Altman per beat and per record, threshold crossings.

    A record's duration is the median over its matched beats (ours and the cardiologists'); a record
    *moves across* a threshold when ours and theirs fall on different sides of it (``up``: ours >= it,
    theirs below).
    """
    truth_beats = np.asarray(t["true_duration"], dtype=float)
    ours_beats = truth_beats + np.asarray(t["duration"], dtype=float)
    records = np.asarray(t["records"], dtype=float).reshape(-1, 2)
    ours, theirs = records[:, 0], records[:, 1]
    crossings = {}
    for threshold in THRESHOLDS_MS:
        up = int(((ours >= threshold) & (theirs < threshold)).sum())
        down = int(((ours < threshold) & (theirs >= threshold)).sum())
        above = int((theirs >= threshold).sum())
        crossings[f"{threshold:g}"] = {
            "moved": up + down,
            "up": up,
            "down": down,
            "cardiologists_at_or_above": above,
        }
    return {
        "beats": _bland_altman(ours_beats, truth_beats),
        "records": _bland_altman(ours, theirs),
        "threshold_crossings": crossings,
    }


def _run_one(method: str, name: str, record, failures: dict[str, list[str]]) -> tuple[dict, float]:
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            variants = RUNNERS[method](record)
    except Exception as error:  # a failed record counts as zero detections
        failures[method].append(f"{name}: {type(error).__name__}: {error}")
        variants = {method: (np.array([]), np.array([]))}
    return variants, time.perf_counter() - started


def _add_record(t: dict, result: dict, elapsed: float, name: str) -> None:
    t["seconds"] += elapsed
    t["beat_record"].extend([name] * len(result["duration"]))
    for key in ("tp", "n_true", "n_detected"):
        t[key] += result[key]
    for key in ("onset", "offset", "duration", "true_duration"):
        t[key].extend(result[key])
    if result["tp"]:
        truth_ms = np.asarray(result["true_duration"])
        t["records"].append(
            (float(np.median(truth_ms + np.asarray(result["duration"]))), float(np.median(truth_ms)))
        )


def _summary(t: dict, n_records: int, failed: list[str]) -> dict:
    return {
        "sensitivity": round(t["tp"] / t["n_true"], 5) if t["n_true"] else None,
        "ppv": round(t["tp"] / t["n_detected"], 5) if t["n_detected"] else None,
        "onset_error_ms": _stats(t["onset"]),
        "offset_error_ms": _stats(t["offset"]),
        "qrs_duration_error_ms": _stats(t["duration"]),
        "seconds_per_record": round(t["seconds"] / max(n_records, 1), 5),
        "records_per_second": round(n_records / t["seconds"], 2) if t["seconds"] else None,
        "true_beats": t["n_true"],
        "detected_beats": t["n_detected"],
        "failed_records": failed,
    }


def _within_between(values: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Pooled within-group SD (around each group's mean) and the SD of the group means."""
    means = {g: values[groups == g].mean() for g in np.unique(groups)}
    centred = values - np.array([means[g] for g in groups])
    return float(np.sqrt(np.mean(centred**2))), float(np.std(list(means.values())))


def scatter(t: dict) -> dict:
    """Each error split into its record-level part and its beat-to-beat part, beside the truth's own.

    ``between_record_sd``: SD of the records' mean errors; ``within_record_sd``: pooled SD of the
    errors around their record's mean. ``truth_duration_within_record_sd``: the cardiologists' own
    beat-to-beat scatter of the duration inside a record (pooled; also the median of the per-record
    SDs) -- the per-beat duration error SD of a reader that reads every beat of a record alike and is
    exact on the record's mean.
    """
    groups = np.asarray(t["beat_record"])
    if len(np.unique(groups)) < 2:
        return {}
    out = {}
    for key in ("onset", "offset", "duration"):
        within, between = _within_between(np.asarray(t[key], dtype=float), groups)
        out[key] = {"within_record_sd": round(within, 2), "between_record_sd": round(between, 2)}
    truth = np.asarray(t["true_duration"], dtype=float)
    within, _ = _within_between(truth, groups)
    per_record = [truth[groups == g].std() for g in np.unique(groups)]
    out["truth_duration_within_record_sd"] = round(within, 2)
    out["truth_duration_per_record_sd_median"] = round(float(np.median(per_record)), 2)
    return out


def evaluate(
    ludb: Path, names: list[str], methods: list[str], *, progress: bool = True, truth_rank: int = 0
) -> dict:
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
        truth = load_truth(ludb, name, record.fs, rank=truth_rank)
        for method in methods:
            variants, elapsed = _run_one(method, name, record, failures)
            for variant, (onsets, offsets) in variants.items():
                matched = match(truth, onsets, offsets, record.fs)
                _add_record(totals.setdefault(variant, _empty()), matched, elapsed, name)
        if progress:
            print(f"\r{index + 1}/{len(records)} records", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    out: dict = {"records": len(records), "methods": {}}
    for variant, t in totals.items():
        out["methods"][variant] = _summary(t, len(records), failures.get(variant.removesuffix("-median"), []))
    ours_and_peers = [v for v in totals if v in (*CARDIOPREDICT, *ALL_METHODS)]
    out["agreement"] = {variant: agreement(totals[variant]) for variant in ours_and_peers}
    out["scatter"] = {variant: scatter(totals[variant]) for variant in ours_and_peers}
    out["truth_rank"] = truth_rank
    ours_name = next((m for m in methods if m in CARDIOPREDICT), None)  # the first one asked for
    if ours_name is not None:
        ours = out["methods"][ours_name]["seconds_per_record"]
        out["speedup_basis"] = ours_name
        out["speedup_vs"] = {
            m: round(out["methods"][m]["seconds_per_record"] / ours, 1)
            for m in methods
            if not m.startswith("cardiopredict") and m in out["methods"]
        }
    return out


# --- the simulator cross-check and the edge profile ---------------------------------------------------
def _spatial_velocity(record) -> np.ndarray:
    """Spatial velocity (mV/s) of I, II, V1-V6 band-passed 0.5-40 Hz, smoothed over 8 ms (as delineate)."""
    from cardiopredict.ecg.filters import bandpass

    rows = [record.leads.index(lead) for lead in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")]
    band = np.nan_to_num(bandpass(record.signal[rows], record.fs, low_hz=0.5, high_hz=40.0))
    sv = np.sqrt((np.gradient(band, axis=1) ** 2).sum(axis=0)) * record.fs
    width = round(0.008 * record.fs)
    return np.convolve(sv, np.ones(width) / width, mode="same")


def _profile_at(sv: np.ndarray, onset: int, offset: int, fs: float) -> tuple[float, ...] | None:
    """sv at the onset and the last QRS sample (% of the beat's peak), noise floor (% : 10th percentile of
    the 250 ms before the peak) and ms from the onset until sv first reaches 4 % and 10 % of the peak."""
    span = round(0.25 * fs)
    if onset < span or offset + span > len(sv) or offset - onset < 4:
        return None
    peak_at = onset + int(np.argmax(sv[onset:offset]))
    peak = float(sv[peak_at])
    rise = sv[onset : peak_at + 1] / peak
    delays = [float(np.argmax(rise >= level)) * 1000.0 / fs for level in (0.04, 0.10)]
    floor = float(np.percentile(sv[peak_at - span : peak_at], 10)) / peak
    return 100 * sv[onset] / peak, 100 * sv[offset - 1] / peak, 100 * floor, *delays


def _profile_summary(rows: list[tuple[float, ...]]) -> dict:
    keys = ("sv_at_onset_pct", "sv_at_offset_pct", "noise_floor_pct", "ms_to_4pct", "ms_to_10pct")
    array = np.asarray(rows, dtype=float)
    return {"beats": len(array)} | {
        key: [round(float(v), 2) for v in np.percentile(array[:, k], [25, 50, 75])]
        for k, key in enumerate(keys)
    }


def _designed_beats(record, params) -> list[tuple[int, int]]:
    """Designed (onset, offset exclusive) samples of the simulated record's non-PVC beats."""
    from cardiopredict.ecg.simulate import extent_ms

    start, end = extent_ms(params.qrs)
    start = min(start, 0.0) if params.paced else start
    scale = record.fs / 1000.0
    events = record.meta["events"]
    return [
        (int(q + round(start * scale)), int(q + round(end * scale)))
        for q, kind in zip(events["qrs"], events["kind"], strict=True)
        if kind == 0
    ]


def simulated_records(seeds: int, noise_scale: float) -> list[tuple[str, object, object]]:
    """(phenotype, params, record) for every phenotype and seed, the simulator's noise scaled."""
    from dataclasses import replace

    from cardiopredict.ecg.simulate import PHENOTYPES, phenotype_params, simulate_ecg

    out = []
    for phenotype in PHENOTYPES:
        for seed in range(seeds):
            params = phenotype_params(phenotype, rng=np.random.default_rng(1000 + seed))
            params = replace(
                params,
                baseline_mv=params.baseline_mv * noise_scale,
                powerline_mv=params.powerline_mv * noise_scale,
                muscle_mv=params.muscle_mv * noise_scale,
            )
            out.append((phenotype, params, simulate_ecg(params, seed=seed)))
    return out


def simulator_check(methods: list[str], *, seeds: int, noise_scales: list[float]) -> dict:
    """Read minus designed QRS duration (ms, median over a record's valid non-ectopic beats, mean over
    seeds) per phenotype, for each cardiopredict method and noise scale; and its spread over phenotypes."""
    from cardiopredict.ecg.delineation import delineate

    out: dict = {"seeds": seeds, "noise_scales": noise_scales, "methods": {}}
    for scale in noise_scales:
        records = simulated_records(seeds, scale)
        for method in methods:
            errors: dict[str, list[float]] = {}
            for phenotype, params, record in records:
                d = delineate(record, params=_params(method))
                keep = d.valid & ~d.ectopic
                read = float(np.median(d.qrs_durations_ms[keep])) if keep.any() else np.nan
                errors.setdefault(phenotype, []).append(read - params.qrs_duration_ms)
            per = {name: round(float(np.nanmean(v)), 1) for name, v in errors.items()}
            values = np.asarray(list(per.values()))
            out["methods"].setdefault(method, {})[f"noise_x{scale:g}"] = {
                "duration_error_ms": per,
                "min": float(values.min()),
                "median": float(np.median(values)),
                "max": float(values.max()),
                "within_10ms": int((np.abs(values) <= 10).sum()),
                "phenotypes": len(values),
            }
    return out


def marked_beats(ludb: Path, names: list[str]) -> Iterator[tuple[np.ndarray, int, int, float]]:
    """(spatial velocity, onset, offset exclusive, fs) of every cardiologist-marked LUDB beat in its span."""
    for name in names:
        record = load_record(ludb, name)
        truth = load_truth(ludb, name, record.fs)
        sv = _spatial_velocity(record)
        lo, hi = truth["span"]
        for onset, offset in zip(truth["onsets"], truth["offsets"], strict=True):
            if lo < onset and offset < hi:
                yield sv, int(onset), int(offset) + 1, record.fs


def designed_beats(seeds: int) -> Iterator[tuple[np.ndarray, int, int, float]]:
    """(spatial velocity, designed onset, designed end exclusive, fs) of every simulated non-PVC beat."""
    for _phenotype, params, record in simulated_records(seeds, 1.0):
        sv = _spatial_velocity(record)
        for onset, offset in _designed_beats(record, params):
            yield sv, onset, offset, record.fs


def edge_profile(ludb: Path, names: list[str], *, seeds: int) -> dict:
    """The spatial velocity at the marked edges: LUDB (cardiologists) vs the simulator (designed edges)."""
    real = [row for beat in marked_beats(ludb, names) if (row := _profile_at(*beat))]
    simulated = [row for beat in designed_beats(seeds) if (row := _profile_at(*beat))]
    return {"ludb": _profile_summary(real), "simulator": _profile_summary(simulated)}


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
    choices = ", ".join(RUNNERS)
    parser.add_argument("--methods", default=",".join(ALL_METHODS), help=f"comma list of {choices}")
    parser.add_argument("--sim-seeds", type=int, default=3, help="simulated records per phenotype (0: none)")
    parser.add_argument("--sim-noise", default="1", help="comma list of factors on the simulator's noise")
    parser.add_argument(
        "--sim-edge-ramp", type=float, default=None, help="render the simulator with this QRS_EDGE_RAMP"
    )
    parser.add_argument(
        "--truth-rank",
        type=int,
        default=0,
        help="sensitivity: truth from the (K+1)-th earliest onset / latest offset of the lead marks",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.sim_edge_ramp is not None:
        import cardiopredict.ecg.simulate as simulate

        simulate.QRS_EDGE_RAMP = args.sim_edge_ramp
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in RUNNERS]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {choices}")
    names = _parse_records(args.records, record_names(args.ludb))
    if args.limit:
        names = names[: args.limit]
    if not names:
        parser.error(f"no LUDB records found under {args.ludb / 'data'}")
    result = evaluate(args.ludb, names, methods, progress=not args.quiet, truth_rank=args.truth_rank)
    ours = [m for m in methods if m in CARDIOPREDICT]
    if args.sim_seeds > 0 and ours:
        scales = [float(v) for v in args.sim_noise.split(",") if v.strip()]
        result["simulator"] = simulator_check(ours, seeds=args.sim_seeds, noise_scales=scales)
        result["edge_profile"] = edge_profile(args.ludb, names, seeds=args.sim_seeds)
    result["meta"] = {
        "ludb": str(args.ludb),
        "record_names": f"{names[0]}..{names[-1]}",
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "command": " ".join(["python", "benchmarks/delineation_ludb.py", *(argv or sys.argv[1:])]),
    }
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
