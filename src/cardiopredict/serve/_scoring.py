"""One prediction: uploaded files -> model input -> fold probabilities, measurements, rule, warnings.

Each ECG goes through the same pipeline as in training (:func:`cardiopredict.features.record_features`,
what :func:`~cardiopredict.features.extract_features` runs, with the window stored in ``model.json``),
and is read and delineated once: the record and its delineation are kept for the 12-lead grid. An ECG
upload may be a zip of one WFDB record (header and signal file), extracted safely. An LGE model's zip
goes through :mod:`cardiopredict.serve._lge`. The answer holds only what the pipeline
measured and the cohort-free facts of the model; nothing read from a file header (names, IDs, dates) is
ever used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict.errors import CardioPredictError, CorruptFileError, InputError
from cardiopredict.serve._answer import Scored, answer_of, fold_prediction
from cardiopredict.serve._lge import score_lge
from cardiopredict.serve._models import ServedModel
from cardiopredict.serve._uploads import extract_zip_safely

MEASUREMENTS = (
    "qrs_duration_ms",
    "lbbb_aha",
    "lbbb_strauss",
    "rbbb",
    "heart_rate_bpm",
    "pr_interval_ms",
    "qrs_axis_deg",
    "fragmented_qrs",
    "paced",
    "n_beats",
    "n_valid_beats",
)
FLAG_WORDS = {
    "all_nan": "holds no samples",
    "nan_run": "has missing samples",
    "non_finite": "held infinite values (set to missing)",
    "huge": "held values beyond ±1 V (set to missing)",
    "flat": "is flat (no signal)",
    "clipped": "is clipped (amplifier saturation or a clipped export)",
    "amplitude": "has an implausibly large amplitude (> 20 mV)",
}


@dataclass
class ECGUpload:
    """What the figures need from one scored ECG (kept in memory briefly, never the file itself)."""

    record: Any
    delineation: Any
    features: Any


def score(
    model: ServedModel,
    files: Mapping[str, Path],
    *,
    sex: str | None = None,
    lvef_percent: float | None = None,
) -> Scored:
    """Score one patient with ``model`` from the uploaded ``files`` (field name -> stored path).

    Parameters
    ----------
    model : ServedModel
    files : mapping of str to Path
        One file per input field of the model (``model.fields``).
    sex : {"M", "F"}, optional
        For the sex-specific criteria (Strauss LBBB).
    lvef_percent : float, optional
        Left-ventricular ejection fraction, %, shown beside the measurements (VA rule: <= 35 %).

    Raises
    ------
    InputError
        A field missing or unexpected, a bad ``sex``/``lvef``; any reader or delineation error of a
        file, with the file named by its field (``<pre file>``) instead of its path.
    """
    _check_request(model, files, sex=sex, lvef_percent=lvef_percent)
    if model.kind == "lge_zip":
        return score_lge(model, files, lvef_percent=lvef_percent)
    ecgs = {f.name: _read(f.name, files[f.name], model, sex=sex) for f in model.fields}
    by_column = {f.column: ecgs[f.name] for f in model.fields}
    inputs = {
        key: getattr(by_column[item["column"]].features, item["feature"])[None].astype(np.float32)
        for key, item in model.spec.items()
    }
    measurements: dict[str, Any] = {
        name: {key: upload.features.measurements.get(key) for key in MEASUREMENTS}
        for name, upload in ecgs.items()
    }
    answer = answer_of(
        model,
        fold_prediction(model, inputs),
        measurements,
        lvef_percent=lvef_percent,
        quality={name: _quality(upload) for name, upload in ecgs.items()},
        warnings=_warnings(ecgs),
    )
    return Scored(answer=answer, ecgs=ecgs, inputs=inputs)


def _check_request(
    model: ServedModel, files: Mapping[str, Path], *, sex: str | None, lvef_percent: float | None
) -> None:
    expected = [f.name for f in model.fields]
    missing = [name for name in expected if name not in files]
    unexpected = sorted(set(files) - set(expected))
    if missing or unexpected:
        parts = [f"missing {missing}" if missing else "", f"unexpected {unexpected}" if unexpected else ""]
        raise InputError(
            f"model {model.name!r} needs one file per input {expected}: {', '.join(p for p in parts if p)}. "
            "Send each file in the multipart field of that name."
        )
    if sex is not None and sex not in ("M", "F"):
        raise InputError(f"sex={sex!r}: give 'M' or 'F', or leave it out.")
    if lvef_percent is not None and not (np.isfinite(lvef_percent) and 5 <= lvef_percent <= 80):
        raise InputError(f"lvef={lvef_percent!r}: give the ejection fraction in %, between 5 and 80.")


def _read(name: str, path: Path, model: ServedModel, *, sex: str | None) -> ECGUpload:
    """Read, delineate and featurise one upload; errors name the field, never the stored path."""
    from cardiopredict.ecg.io import read_ecg
    from cardiopredict.features import exclusion_reason, record_features

    try:
        record = read_ecg(_ecg_file(name, path))
        needed = frozenset(item["feature"] for item in model.spec.values())
        features, delineation = record_features(
            record, model.window, sex=sex, source=str(path), features=needed
        )
        return ECGUpload(record=record, delineation=delineation, features=features)
    except CardioPredictError as error:
        error.args = (_without_path(error, name, path),)
        raise error from None
    except Exception as error:  # a file no reader foresaw must not become a 500
        raise CorruptFileError(
            exclusion_reason(name, str(path), error)
            + f". The {name} file could not be read as an ECG; check that it is a 12-lead export "
            "(see docs/DATA_FORMATS.md)."
        ) from error


def _ecg_file(name: str, path: Path) -> Path:
    """The file to read for one ECG upload: the upload itself, or, when it is a zip (a WFDB record is a
    header and a signal file), the one WFDB header (or the one file) inside it, extracted safely."""
    with path.open("rb") as handle:
        if handle.read(4) != b"PK\x03\x04":
            return path
    folder = path.parent / f"{name}-zip"
    folder.mkdir()
    try:
        files = extract_zip_safely(path, folder)
    except CardioPredictError as error:
        raise type(error)(_anonymous_members(str(error), path, name)) from None
    headers = [file for file in files if file.suffix.lower() == ".hea"]
    if len(headers) == 1:
        return headers[0]
    if not headers and len(files) == 1:
        return files[0]
    raise InputError(
        f"the {name} zip holds {len(files)} files and {len(headers)} WFDB headers (.hea); zip one ECG: "
        "a WFDB record's .hea with its signal file, or a single export file."
    )


def _anonymous_members(text: str, archive: Path, name: str) -> str:
    """``text`` with the names of the zip's members replaced (they may be named after the patient)."""
    import zipfile

    try:
        with zipfile.ZipFile(archive) as handle:
            members = sorted((info.filename for info in handle.infolist()), key=len, reverse=True)
    except (zipfile.BadZipFile, OSError):
        return text
    for member in members:
        text = text.replace(repr(member), f"<a {name} zip member>").replace(member, f"<a {name} zip member>")
    return text


def _without_path(error: CardioPredictError, name: str, path: Path) -> str:
    """The error's message with the stored path, the upload folder and any zip member named as the field
    (zip members may be named after the patient)."""
    text = str(error)
    members = path.parent / f"{name}-zip"
    if members.is_dir():
        for member in sorted(members.rglob("*"), key=lambda p: -len(str(p))):
            text = text.replace(str(member), f"<{name} file>").replace(member.name, f"<{name} file>")
    for form in (str(path), str(path.parent)):
        text = text.replace(form, f"<{name} file>")
    return text


def _quality(upload: ECGUpload) -> dict[str, Any]:
    record, delineation = upload.record, upload.delineation
    invalid = [", ".join(flags) for flags in delineation.beat_flags if flags]
    return {
        "sampling_rate_hz": record.fs,
        "duration_s": round(record.duration_s, 2),
        "lead_flags": {lead: flags for lead, flags in record.meta.get("quality", {}).items() if flags},
        "derived_leads": list(record.meta.get("derived_leads") or []),
        "n_beats": int(delineation.n_beats),
        "n_valid_beats": int(np.sum(delineation.valid)),
        "invalid_beat_reasons": sorted(set(invalid)),
    }


def _warnings(ecgs: Mapping[str, ECGUpload]) -> list[str]:
    """Every quality flag and caveat of the ECGs, in words a clinician reads."""
    words = []
    for name, upload in ecgs.items():
        quality = _quality(upload)
        for lead, flags in quality["lead_flags"].items():
            words.extend(f"{name} ECG: lead {lead} {FLAG_WORDS.get(flag, flag)}." for flag in flags)
        if quality["derived_leads"]:
            words.append(
                f"{name} ECG: leads {', '.join(quality['derived_leads'])} were derived from I and II."
            )
        invalid = quality["n_beats"] - quality["n_valid_beats"]
        if invalid:
            words.append(
                f"{name} ECG: {invalid} of {quality['n_beats']} beats could not be delineated reliably "
                f"({'; '.join(quality['invalid_beat_reasons'])}); they were left out."
            )
        if upload.features.measurements.get("paced"):
            words.append(
                f"{name} ECG: paced rhythm; QRS duration and LBBB criteria assume intrinsic conduction."
            )
        if upload.record.duration_s < 5.0:
            words.append(f"{name} ECG: only {upload.record.duration_s:.1f} s long; 10 s is standard.")
    return words
