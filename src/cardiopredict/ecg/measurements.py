"""Clinical 12-lead measurements from a delineated ECG: intervals, conduction, voltage, VCG QRS area.

Everything morphological is measured on the representative beat: the median of the valid beats (ectopic
beats, ``QRSDelineation.ectopic``, left out when others remain) aligned on
the global QRS onset, baseline-corrected (0.5 Hz high-pass), resampled to 1000 Hz so that one sample is one
millisecond. Amplitudes are taken against the PR-segment level (median of the 20–4 ms before QRS onset).

Criteria and their sources (the automatic reading is a screen, not a diagnosis):

* LBBB, AHA/ACC/HRS 2009 (Surawicz et al., Circulation 119:e235): QRS >= 120 ms; QS or rS in V1
  (S deeper than R); upright broad R in I and V6 with no q wave (q deeper than 0.05 mV) in I, V5, V6;
  R-peak time > 60 ms in V5 or V6. (Notching of the broad R is not required here.)
* LBBB, Strauss 2011 (Am J Cardiol 107:927): QRS >= 140 ms (men) / 130 ms (women) — 140 ms when sex is
  unknown; QS or rS in V1 and V2; mid-QRS notch or slur (between 40 ms after onset and 60 % of the QRS)
  in >= 2 of V1, V2, V5, V6, I, aVL.
* RBBB, AHA/ACC/HRS 2009: QRS >= 120 ms; terminal positive deflection (R') in V1 or V2 in the second half
  of the QRS, of at least 0.1 mV; terminal negative deflection (wide S) in I or V6.
* Sokolow–Lyon: S(V1) + max(R(V5), R(V6)) in mV (LVH when >= 3.5 mV).
* Cornell voltage: R(aVL) + S(V3) in mV; LVH when > 2.8 mV (men) / > 2.0 mV (women); ``None`` without sex.
* QRS area: Kors regression matrix (Kors et al., Eur Heart J 11:1083, 1990) from I, II, V1–V6 to X, Y, Z;
  area = sqrt(Ax² + Ay² + Az²), Ai the time integral of lead i over the QRS, in µV·s (van Stipdonk 2018).
* Fragmented QRS (Das et al., Circulation 2006; Heart Rhythm 2008): an extra R wave (R') or a notch in
  the R or S wave — on the median beat, an extra local extremum of >= 0.04 mV prominence beyond one R
  peak and one trough on each side of it — in >= 2 leads of one coronary territory (anterior V1–V5,
  lateral I/aVL/V6, inferior II/III/aVF); for QRS >= 120 ms, more than two extra extrema are required.
* Paced rhythm (most QRS complexes after a pacing stimulus): LBBB and RBBB are reported False.
* Wide-complex tachycardia (ventricular rate > 100 bpm with QRS >= 120 ms): LBBB and RBBB are not
  assessable (``None``): the surface criteria cannot tell ventricular tachycardia from a bundle-branch
  block conducting a fast supraventricular rhythm, so a BBB call there would be a guess.
* Degraded leads (``quality_issues``: flat, clipped, NaN run, ±inf or huge values): every measurement
  that uses such a lead is not assessable (``None``), never a definite negative, with the reason in
  ``not_assessable`` (field -> reason). Low voltage and fragmentation use the clean leads: a positive
  finding there stands, a negative one with degraded leads in the group is not assessable. The global
  measures (QRS duration, heart rate, PR, AV block) need >= 6 clean leads.
* Low voltage: QRS peak-to-peak < 0.5 mV in every limb lead, or < 1.0 mV in every precordial lead.
* PR interval: median over dominant beats of (QRS onset − P onset); NaN unless the PR is consistent (IQR
  <= 40 ms) and a P wave is found before >= 50 % of the QRS complexes (by ``delineate``, or as an atrial
  wave 80–450 ms before them at a constant interval when ``delineate`` misses P waves close to the T wave).
* AV block (on the dominant rhythm: ectopic beats, ``QRSDelineation.ectopic``, and the intervals around
  them left out). Atrial waves are found between consecutive dominant beats — in diastole, and on the ST-T
  segment after QRS-T cancellation (the median ST-T subtracted, aligned within ±20 ms), so that P waves
  marching through the T waves are seen — keeping deflections shaped like the record's P wave (correlation
  >= 0.6 with the median P found before the QRS complexes). The atria have a rhythm of their own when
  there are >= 1.3 atrial waves per RR interval on a regular ventricular rhythm, with regular P-P intervals
  (>= 60 % within 15 % of their median) at most 75 % of the median RR. Then 3 = the atrial wave before
  each QRS comes at a varying interval (IQR > 40 ms or range > 50 ms: P waves marching through, AV
  dissociation) or no consistent PR exists; 2 = a constant PR (2:1 or higher-grade block). Otherwise
  2 = a pause (RR > 1.6 × the 25th percentile of the dominant RR) between two dominant beats holding a P
  wave that no QRS follows — a pause after an ectopic beat is its compensatory pause, not a block;
  1 = consistent PR > 200 ms; 0 otherwise (also without P waves). A 10-s ECG and a threshold screen: see
  docs/BENCHMARKS.md for how it does on LUDB and docs/BENCHMARKS.md on simulated blocks. The PR interval
  and AV block are computed in :mod:`cardiopredict.ecg._av_conduction`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy import signal as sps

from cardiopredict.ecg._av_conduction import p_and_av_block
from cardiopredict.ecg.delineation import QRSDelineation
from cardiopredict.ecg.io import degraded_leads
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.ecg.windows import PRE_ONSET_MS, qrs_window
from cardiopredict.errors import InputError, MissingLeadError

__all__ = ["KORS_MATRIX", "ECGMeasurements", "measure"]

# rows X, Y, Z; columns I, II, V1, V2, V3, V4, V5, V6
KORS_MATRIX = np.array(
    [
        [0.38, -0.07, -0.13, 0.05, -0.01, 0.14, 0.06, 0.54],
        [-0.07, 0.93, 0.06, -0.02, -0.05, 0.06, -0.17, 0.13],
        [0.11, -0.23, -0.43, -0.06, -0.14, -0.20, -0.11, 0.31],
    ]
)
KORS_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
LIMB_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF")
PRECORDIAL_LEADS = ("V1", "V2", "V3", "V4", "V5", "V6")
TERRITORIES = {
    "anterior": ("V1", "V2", "V3", "V4", "V5"),
    "lateral": ("I", "aVL", "V6"),
    "inferior": ("II", "III", "aVF"),
}
Q_WAVE_MV = 0.05
NOTCH_PROMINENCE_MV = 0.04
BEAT_MS = 400  # length of the representative beat, from 40 ms before onset
WCT_RATE_BPM = 100.0
WCT_QRS_MS = 120.0
MIN_CLEAN_LEADS = 6  # for the global measures (QRS duration, rate, PR, AV block)
# the leads each lead-specific measurement reads (low voltage and fragmentation are handled apart)
CRITERION_LEADS = {
    "lbbb_aha": ("I", "V1", "V5", "V6"),
    "lbbb_strauss": ("I", "aVL", "V1", "V2", "V5", "V6"),
    "rbbb": ("I", "V1", "V2", "V6"),
    "sokolow_lyon_mv": ("V1", "V5", "V6"),
    "cornell_mv": ("aVL", "V3"),
    "cornell_lvh": ("aVL", "V3"),
    "qrs_area_uvs": KORS_LEADS,
    "qrs_axis_deg": ("I", "aVF"),
}
GLOBAL_FIELDS = ("qrs_duration_ms", "heart_rate_bpm", "pr_interval_ms", "av_block")


@dataclass(frozen=True)
class ECGMeasurements:
    """Clinical measurements of one ECG (see the module docstring for each definition).

    Every measurement may be ``None``: not assessable, with the reason in ``not_assessable``.

    Parameters
    ----------
    qrs_duration_ms : float
        Median global QRS duration of the valid, non-ectopic beats.
    heart_rate_bpm : float
        60000 / mean RR interval (ventricular rate).
    pr_interval_ms : float
        NaN when no consistent P wave precedes the QRS complexes.
    av_block : int
        0, 1, 2 or 3 (degree).
    lbbb_aha, lbbb_strauss, rbbb : bool
        None in a wide-complex tachycardia or with a degraded lead the criterion reads.
    sokolow_lyon_mv, cornell_mv : float
    cornell_lvh : bool or None
        None when ``sex`` was not given.
    qrs_area_uvs : float
        Kors-VCG QRS area in µV·s.
    qrs_axis_deg : float
        Frontal QRS axis from the net QRS areas of I and aVF.
    fragmented_qrs, low_voltage : bool
    paced : bool
        Most QRS complexes follow a pacing stimulus; bundle-branch-block criteria are then not applied
        (a paced QRS is not a bundle-branch block) and report False.
    n_beats, n_valid_beats : int
    sex : str or None
        The sex the sex-specific criteria used ("M"/"F").
    not_assessable : dict
        Field name -> why it is ``None`` (degraded leads named, or the wide-complex tachycardia).
    degraded_leads : dict
        Lead -> the flags that made it unusable (from ``quality_issues``); empty when all leads are clean.
    """

    qrs_duration_ms: float | None
    heart_rate_bpm: float | None
    pr_interval_ms: float | None
    av_block: int | None
    lbbb_aha: bool | None
    lbbb_strauss: bool | None
    rbbb: bool | None
    sokolow_lyon_mv: float | None
    cornell_mv: float | None
    cornell_lvh: bool | None
    qrs_area_uvs: float | None
    qrs_axis_deg: float | None
    fragmented_qrs: bool | None
    low_voltage: bool | None
    paced: bool
    n_beats: int
    n_valid_beats: int
    sex: str | None
    not_assessable: dict[str, str] = field(default_factory=dict)
    degraded_leads: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain dict of the fields (floats, ints, bools, None)."""
        return asdict(self)


@dataclass(frozen=True)
class _Lead:
    """Morphology of one lead's QRS on the representative beat (1 sample = 1 ms)."""

    qrs: np.ndarray  # baseline-corrected QRS, mV
    r_mv: float
    s_mv: float
    r_peak_ms: float
    q_mv: float

    @property
    def peak_to_peak_mv(self) -> float:
        return float(self.qrs.max() - self.qrs.min()) if self.qrs.size else 0.0


def _normalise_sex(sex: str | None) -> str | None:
    if sex is None:
        return None
    value = str(sex).strip().upper()
    if value in ("M", "MALE", "MAN"):
        return "M"
    if value in ("F", "FEMALE", "W", "WOMAN"):
        return "F"
    raise InputError(f"sex={sex!r}: use 'M' or 'F' (or None when unknown).")


def _lead_morphology(beat: np.ndarray, onset: int, offset: int) -> _Lead:
    baseline = float(np.median(beat[max(onset - 20, 0) : max(onset - 4, 1)]))
    qrs = beat[onset:offset] - baseline
    if qrs.size == 0:
        return _Lead(qrs, 0.0, 0.0, float("nan"), 0.0)
    r_at = int(np.argmax(qrs))
    r_mv = max(float(qrs[r_at]), 0.0)
    s_mv = max(float(-qrs.min()), 0.0)
    q_mv = max(float(-qrs[: r_at + 1].min()), 0.0) if r_mv > 0 else 0.0
    return _Lead(qrs, r_mv, s_mv, float(r_at) if r_mv > 0 else float("nan"), q_mv)


def _extra_extrema(qrs: np.ndarray) -> int:
    """Extrema beyond one R peak and one trough on each side of it (notches, R', notched S)."""
    if qrs.size < 10:
        return 0
    smooth = np.convolve(qrs, np.ones(4) / 4, mode="same")
    maxima, _ = sps.find_peaks(smooth, prominence=NOTCH_PROMINENCE_MV, distance=8)
    minima, _ = sps.find_peaks(-smooth, prominence=NOTCH_PROMINENCE_MV, distance=8)
    r_at = int(np.argmax(smooth))
    extra = max(len(maxima) - 1, 0)
    extra += max(int((minima < r_at).sum()) - 1, 0) + max(int((minima > r_at).sum()) - 1, 0)
    return extra


def _notch_or_slur(qrs: np.ndarray) -> bool:
    """Mid-QRS notch or slur: the slope of the main deflection falls below half its surrounding maxima.

    Looked for between 40 ms after onset and 60 % of the QRS, on the up- and the down-stroke of the
    dominant deflection.
    """
    n = qrs.size
    if n < 60:
        return False
    sign = 1.0 if qrs.max() >= -qrs.min() else -1.0
    y = np.convolve(sign * qrs, np.ones(6) / 6, mode="same")
    if y.max() < 0.1:
        return False
    slope = np.gradient(y)
    peak = int(np.argmax(y))
    lo, hi = 40, int(0.6 * n)
    for segment_slope, first in ((slope[: peak + 1], 0), (-slope[peak:], peak)):
        if segment_slope.size < 5:
            continue
        dips, _ = sps.find_peaks(-segment_slope)
        for dip in dips:
            at = first + dip
            if not lo <= at <= hi:
                continue
            left, right = segment_slope[:dip].max(initial=0.0), segment_slope[dip:].max(initial=0.0)
            shoulder = min(left, right)
            if shoulder > 0.004 and segment_slope[dip] < 0.5 * shoulder:  # 0.004 mV/ms = 4 mV/s
                return True
    return False


def _dominant_beat(record: ECGRecord, delineation: QRSDelineation) -> tuple[float, dict[str, _Lead]]:
    """QRS duration (ms, median) and per-lead morphology of the dominant rhythm's representative beat:
    ectopic beats left out when others remain."""
    valid = delineation.valid
    dominant_valid = valid if delineation.ectopic is None else valid & ~delineation.ectopic
    if dominant_valid.sum() < max(2, 0.5 * valid.sum()):
        dominant_valid = valid
    durations = delineation.qrs_durations_ms[dominant_valid]
    qrs_ms = float(np.median(durations)) if len(durations) else float("nan")
    beat = qrs_window(
        record, replace(delineation, valid=dominant_valid), n_samples=BEAT_MS, mode="fixed", missing="keep"
    )  # 1 sample = 1 ms; a lead missing in every beat stays NaN and is not assessable
    onset = int(PRE_ONSET_MS)
    offset = min(onset + round(qrs_ms), BEAT_MS)
    return qrs_ms, {name: _lead_morphology(beat[i], onset, offset) for i, name in enumerate(record.leads)}


def measure(record: ECGRecord, delineation: QRSDelineation, *, sex: str | None = None) -> ECGMeasurements:
    """Measure intervals, conduction blocks, voltage criteria and VCG QRS area of one ECG.

    Parameters
    ----------
    record : ECGRecord
        12-lead record (canonical names).
    delineation : QRSDelineation
        From :func:`cardiopredict.ecg.delineate` on ``record``.
    sex : {"M", "F"} or None
        For the sex-specific thresholds (Strauss LBBB, Cornell LVH).

    Returns
    -------
    ECGMeasurements
        Measurements that degraded leads or a wide-complex tachycardia make unreliable are ``None``,
        with the reason in ``not_assessable``.

    Raises
    ------
    MissingLeadError
        If a lead the criteria need is absent.
    DelineationError
        If no valid beat fits a representative beat.
    """
    sex_code = _normalise_sex(sex)
    missing = [lead for lead in (*LIMB_LEADS, *PRECORDIAL_LEADS) if lead not in record.leads]
    if missing:
        raise MissingLeadError(
            f"{record.record_id or 'record'}: measurements need the 12 standard leads; missing {missing}. "
            "Read the file with cardiopredict.read_ecg, which derives the limb leads from I and II."
        )
    valid = delineation.valid
    qrs_ms, leads = _dominant_beat(record, delineation)
    degraded = degraded_leads(record)
    for name, lead in leads.items():  # missing in every beat of the representative QRS
        if name not in degraded and not np.isfinite(lead.qrs).all():
            degraded[name] = ["nan_run"]
    values = {
        **_bundle_branch_blocks(leads, qrs_ms, sex_code),
        **_voltage(leads, sex_code),
        **_vcg(leads),
        "fragmented_qrs": _fragmented(leads, qrs_ms, degraded),
        "low_voltage": _low_voltage(leads, degraded),
    }
    paced = bool(delineation.paced is not None and delineation.paced.mean() >= 0.5)
    if paced:  # a paced QRS is not a bundle-branch block
        values.update(lbbb_aha=False, lbbb_strauss=False, rbbb=False)
    pr_ms, av_block = p_and_av_block(record, delineation)
    rr = delineation.rr_intervals_ms
    values.update(
        qrs_duration_ms=round(qrs_ms, 1),
        heart_rate_bpm=round(float(60000.0 / rr.mean()), 1),
        pr_interval_ms=pr_ms,
        av_block=int(av_block),
    )
    reasons = _not_assessable(values, degraded, paced=paced)
    values.update(dict.fromkeys(reasons))
    return ECGMeasurements(
        **values,
        paced=paced,
        n_beats=delineation.n_beats,
        n_valid_beats=int(valid.sum()),
        sex=sex_code,
        not_assessable=reasons,
        degraded_leads=degraded,
    )


def _bundle_branch_blocks(leads: dict[str, _Lead], qrs_ms: float, sex_code: str | None) -> dict[str, bool]:
    """LBBB (AHA 2009, Strauss 2011) and RBBB (AHA 2009) on the representative beat."""
    v1, v2, v5, v6, lead_i = leads["V1"], leads["V2"], leads["V5"], leads["V6"], leads["I"]
    lbbb_aha = bool(
        qrs_ms >= 120
        and v1.s_mv > v1.r_mv
        and lead_i.r_mv > lead_i.s_mv
        and v6.r_mv > v6.s_mv
        and all(leads[name].q_mv < Q_WAVE_MV for name in ("I", "V5", "V6"))
        and max(np.nan_to_num(v5.r_peak_ms), np.nan_to_num(v6.r_peak_ms)) > 60
    )
    qrs_threshold = 130 if sex_code == "F" else 140
    notched = sum(_notch_or_slur(leads[name].qrs) for name in ("V1", "V2", "V5", "V6", "I", "aVL"))
    lbbb_strauss = bool(qrs_ms >= qrs_threshold and v1.s_mv > v1.r_mv and v2.s_mv > v2.r_mv and notched >= 2)

    def terminal(lead: _Lead) -> tuple[float, float]:
        tail = lead.qrs[lead.qrs.size // 2 :]
        return (float(tail.max()), float(-tail.min())) if tail.size else (0.0, 0.0)

    r_prime = any(
        terminal(leads[name])[0] >= 0.1 and terminal(leads[name])[0] > terminal(leads[name])[1]
        for name in ("V1", "V2")
    )
    wide_s = any(terminal(leads[name])[1] > terminal(leads[name])[0] for name in ("I", "V6"))
    return {
        "lbbb_aha": lbbb_aha,
        "lbbb_strauss": lbbb_strauss,
        "rbbb": bool(qrs_ms >= 120 and r_prime and wide_s),
    }


def _voltage(leads: dict[str, _Lead], sex_code: str | None) -> dict[str, float | bool | None]:
    """Sokolow-Lyon and Cornell voltage (mV), Cornell LVH (None without sex)."""
    sokolow = float(leads["V1"].s_mv + max(leads["V5"].r_mv, leads["V6"].r_mv))
    cornell = float(leads["aVL"].r_mv + leads["V3"].s_mv)
    cornell_lvh = None if sex_code is None else bool(cornell > (2.8 if sex_code == "M" else 2.0))
    return {"sokolow_lyon_mv": round(sokolow, 3), "cornell_mv": round(cornell, 3), "cornell_lvh": cornell_lvh}


def _vcg(leads: dict[str, _Lead]) -> dict[str, float]:
    """Kors-VCG QRS area (µV·s: mV·ms == µV·s) and the frontal QRS axis (degrees)."""
    eight = np.stack([leads[name].qrs for name in KORS_LEADS])
    xyz = KORS_MATRIX @ eight
    qrs_area = float(np.sqrt((xyz.sum(axis=1) ** 2).sum()))
    axis = float(np.degrees(np.arctan2(leads["aVF"].qrs.sum(), leads["I"].qrs.sum())))
    return {"qrs_area_uvs": round(qrs_area, 1), "qrs_axis_deg": round(axis, 1)}


def _fragmented(leads: dict[str, _Lead], qrs_ms: float, degraded: dict[str, list[str]]) -> bool | None:
    """fQRS in >= 2 clean leads of one territory; None when negative with a degraded lead in a territory."""
    needed = 1 if qrs_ms < 120 else 3
    fragmented = {
        name for name, lead in leads.items() if name not in degraded and _extra_extrema(lead.qrs) >= needed
    }
    if any(len(fragmented & set(group)) >= 2 for group in TERRITORIES.values()):
        return True
    if any(set(group) & set(degraded) for group in TERRITORIES.values()):
        return None
    return False


def _low_voltage(leads: dict[str, _Lead], degraded: dict[str, list[str]]) -> bool | None:
    """QRS < 0.5 mV in every limb lead or < 1.0 mV in every precordial lead, judged on clean groups."""
    verdicts = []
    for group, limit in ((LIMB_LEADS, 0.5), (PRECORDIAL_LEADS, 1.0)):
        if set(group) & set(degraded):
            verdicts.append(None)
        else:
            verdicts.append(all(leads[name].peak_to_peak_mv < limit for name in group))
    if True in verdicts:
        return True
    return None if None in verdicts else False


def _not_assessable(values: dict, degraded: dict[str, list[str]], *, paced: bool) -> dict[str, str]:
    """Field -> reason for every measurement that cannot be trusted on this ECG."""
    reasons: dict[str, str] = {}

    def named(lead_names: tuple[str, ...] | list[str]) -> str:
        return ", ".join(f"{lead} ({'/'.join(degraded[lead])})" for lead in lead_names)

    for name, needed in CRITERION_LEADS.items():
        bad = [lead for lead in needed if lead in degraded]
        if bad and values.get(name) is not None:
            reasons[name] = f"degraded lead(s) {named(bad)}"
    for name in ("fragmented_qrs", "low_voltage"):
        if values[name] is None:
            reasons[name] = f"negative on the clean leads, but lead(s) {named(sorted(degraded))} are degraded"
    clean = 12 - len(degraded)
    if clean < MIN_CLEAN_LEADS:
        for name in GLOBAL_FIELDS:
            reasons[name] = (
                f"only {clean} clean leads (>= {MIN_CLEAN_LEADS} needed); degraded: {named(sorted(degraded))}"
            )
    rate, qrs = values["heart_rate_bpm"], values["qrs_duration_ms"]
    if not paced and rate > WCT_RATE_BPM and qrs >= WCT_QRS_MS:
        for name in ("lbbb_aha", "lbbb_strauss", "rbbb"):
            reasons[name] = (
                f"wide-complex tachycardia (rate {rate:.0f} bpm, QRS {qrs:.0f} ms): surface criteria cannot "
                "tell ventricular tachycardia from a bundle-branch block, so they are not applied"
            )
    return reasons
