"""Canonical 12-lead names, aliases, and derivation of the limb leads III, aVR, aVL, aVF."""

from __future__ import annotations

import re

import numpy as np

from cardiopredict.errors import InputError, LeadError, MissingLeadError, UnknownLeadError

CANONICAL_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)  # fmt: skip
DERIVABLE_LEADS: tuple[str, ...] = ("III", "aVR", "aVL", "aVF")

_CANONICAL_BY_KEY = {name.upper(): name for name in CANONICAL_LEADS}
# Prefixes and decorations that vendors put around a lead name.
_PREFIXES = ("MDC_ECG_LEAD_", "ECG_LEAD_", "LEAD_", "LEAD", "ECG")
_SUFFIX_RE = re.compile(r"\s*\(.*\)\s*$")  # "Lead I (Einthoven)" -> "Lead I"
_EXTRA_ALIASES = {
    "AVR": "aVR",
    "AVL": "aVL",
    "AVF": "aVF",
    "-AVR": None,  # inverted aVR (Cabrera) is not aVR; refuse rather than mislabel
    "D1": "I",
    "D2": "II",
    "D3": "III",
    "DI": "I",
    "DII": "II",
    "DIII": "III",
    "1": "I",
    "2": "II",
    "3": "III",
}


def canonical_lead_name(name: str, *, source: str | None = None) -> str:
    """Map a vendor lead label to its canonical name.

    Parameters
    ----------
    name : str
        Label as found in a file, e.g. ``"i"``, ``"AVR"``, ``"Lead I (Einthoven)"``,
        ``"MDC_ECG_LEAD_V1"``.
    source : str, optional
        The file the label came from, quoted in the error message.

    Returns
    -------
    str
        One of :data:`CANONICAL_LEADS`.

    Raises
    ------
    UnknownLeadError
        If the label is not a known 12-lead name.
    """
    key = _SUFFIX_RE.sub("", str(name)).strip().upper().replace(" ", "_").replace("-", "_")
    key = key.replace("_", "") if key.replace("_", "") in _CANONICAL_BY_KEY else key
    for prefix in _PREFIXES:
        stripped = key.removeprefix(prefix).strip("_")
        if stripped in _CANONICAL_BY_KEY:
            return _CANONICAL_BY_KEY[stripped]
        if stripped in _EXTRA_ALIASES and _EXTRA_ALIASES[stripped] is not None:
            return _EXTRA_ALIASES[stripped]
    if key in _CANONICAL_BY_KEY:
        return _CANONICAL_BY_KEY[key]
    alias = _EXTRA_ALIASES.get(str(name).strip().upper())
    if alias is not None:
        return alias
    where = f" in {source}" if source else ""
    raise UnknownLeadError(
        f"Unknown lead name {name!r}{where}. Expected one of {', '.join(CANONICAL_LEADS)} "
        "(aliases such as 'avr', 'Lead I (Einthoven)', 'MDC_ECG_LEAD_V1' are accepted). "
        "Rename the column/lead, or drop it if it is not part of the 12-lead set."
    )


def to_canonical_leads(
    signal: np.ndarray, names: list[str] | tuple[str, ...], *, source: str | None = None
) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Reorder leads to canonical order, deriving III/aVR/aVL/aVF from I and II when absent.

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples), mV
    names : sequence of str
        Lead labels of ``signal`` rows, in any vendor spelling.
    source : str, optional
        File name for error messages.

    Returns
    -------
    signal : ndarray of shape (12, n_samples), float32, mV
    leads : tuple of str
        :data:`CANONICAL_LEADS`.
    derived : tuple of str
        Leads computed from I and II (Einthoven/Goldberger) rather than read.

    Raises
    ------
    UnknownLeadError, MissingLeadError
        A label that is no lead; a lead that is absent and cannot be derived.
    LeadError
        The same lead twice.
    InputError
        ``signal`` does not have one row per name.
    """
    signal = np.asarray(signal)
    if signal.ndim != 2 or signal.shape[0] != len(names):
        raise InputError(
            f"signal has shape {signal.shape} but {len(names)} lead names were given"
            + (f" ({source})" if source else "")
            + "; give one name per signal row."
        )
    by_name: dict[str, np.ndarray] = {}
    for row, name in zip(signal, names, strict=True):
        canonical = canonical_lead_name(name, source=source)
        if canonical in by_name:
            where = f" in {source}" if source else ""
            raise LeadError(
                f"Lead {canonical} appears twice{where} (labels {list(names)}): a duplicated lead, not an "
                "unknown one. Keep one column per lead."
            )
        by_name[canonical] = row.astype(np.float32, copy=False)

    derived = _derive_limb_leads(by_name)

    missing = [lead for lead in CANONICAL_LEADS if lead not in by_name]
    if missing:
        where = f" from {source}" if source else ""
        hint = (
            " III, aVR, aVL and aVF can be derived only when both I and II are present."
            if set(missing) & set(DERIVABLE_LEADS)
            else ""
        )
        raise MissingLeadError(
            f"Lead(s) {', '.join(missing)} missing{where}; found {', '.join(by_name)}.{hint} "
            "Export the full 12-lead ECG."
        )
    stacked = np.stack([by_name[lead] for lead in CANONICAL_LEADS]).astype(np.float32)
    return stacked, CANONICAL_LEADS, tuple(derived)


def _derive_limb_leads(by_name: dict[str, np.ndarray]) -> list[str]:
    """Add III, aVR, aVL, aVF that are absent to ``by_name`` from I and II (in place); return them."""
    derived: list[str] = []
    if "I" in by_name and "II" in by_name:
        lead_i, lead_ii = by_name["I"], by_name["II"]
        formulas = {
            "III": lambda: lead_ii - lead_i,
            "aVR": lambda: -(lead_i + lead_ii) / 2,
            "aVL": lambda: lead_i - lead_ii / 2,
            "aVF": lambda: lead_ii - lead_i / 2,
        }
        for lead in DERIVABLE_LEADS:
            if lead not in by_name:
                by_name[lead] = formulas[lead]().astype(np.float32)
                derived.append(lead)
    return derived
