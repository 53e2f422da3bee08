"""The ECG input builder: the quality policy, exclusions with reasons, cohort.csv quality column."""

from __future__ import annotations

import pandas as pd
import pytest

from cardiopredict.config import ECGWindowConfig
from cardiopredict.ecg.io import read_ecg, write_ecg
from cardiopredict.features import build_ecg_inputs, cohort_table

pytestmark = pytest.mark.xdist_group("crt")


def _flat_chest_leads(cohort_manifest, tmp_path):
    """The cohort's manifest (absolute paths) with patient 0's pre-implant V1–V6 set to 0 mV."""
    table = pd.read_csv(cohort_manifest, dtype={"patient_id": str}).head(4)
    for column in ("ecg_pre", "ecg_post"):
        table[column] = [str(cohort_manifest.parent / p) for p in table[column]]
    record = read_ecg(table.loc[0, "ecg_pre"])
    signal = record.signal.copy()
    signal[[record.leads.index(f"V{k}") for k in range(1, 7)]] = 0.0
    broken = write_ecg(record.replace(signal=signal), tmp_path / "broken.csv")
    table.loc[0, "ecg_pre"] = str(broken)
    return table


def test_a_degraded_ecg_is_excluded_by_default_naming_leads_and_flags(crt_cohort, tmp_path):
    table = _flat_chest_leads(crt_cohort, tmp_path)
    cohort = build_ecg_inputs(table, ["ecg_pre"], window=ECGWindowConfig(), cache_dir=None)
    pid = table.loc[0, "patient_id"]
    assert pid not in cohort.patient_ids and len(cohort.patient_ids) == 3
    reason = cohort.exclusions[pid]
    assert (
        reason.startswith("ecg_pre: SignalQualityError: ") and "V1 (flat" in reason and "V6 (flat" in reason
    )
    assert str(tmp_path) not in reason  # the file path never reaches cohort.csv
    rows = cohort_table(table, cohort.exclusions, derived=cohort.derived).set_index("patient_id")
    assert not rows.loc[pid, "included"] and rows.loc[pid, "reason"] == reason


def test_keep_flagged_keeps_the_patient_and_reports_the_flags(crt_cohort, tmp_path):
    table = _flat_chest_leads(crt_cohort, tmp_path)
    window = ECGWindowConfig(quality="keep-flagged")
    cohort = build_ecg_inputs(table, ["ecg_pre"], window=window, cache_dir=None)
    pid = table.loc[0, "patient_id"]
    assert pid in cohort.patient_ids
    assert "V1 (flat" in cohort.derived[pid]["ecg_pre_quality"]
    others = [cohort.derived[p]["ecg_pre_quality"] for p in cohort.patient_ids if p != pid]
    assert others == ["", "", ""]
    measured = cohort.extras["measurements"]["ecg_pre"][pid]
    assert measured["lbbb_aha"] is None  # chest leads flat: not assessable, never a definite negative


def test_a_model_of_qrs_windows_skips_the_rr_window_and_nothing_else(crt_cohort):
    import numpy as np

    from cardiopredict.errors import ConfigError
    from cardiopredict.features import record_features

    table = pd.read_csv(crt_cohort, dtype={"patient_id": str})
    record = read_ecg(crt_cohort.parent / table.loc[0, "ecg_pre"])
    window = ECGWindowConfig()
    full, _ = record_features(record, window)
    qrs_only, _ = record_features(record, window, features=frozenset({"qrs"}))
    assert np.array_equal(full.qrs, qrs_only.qrs) and full.measurements == qrs_only.measurements
    assert full.rr.size > 0 and full.rr_features.size == 4
    assert qrs_only.rr.size == 0 and qrs_only.rr_features.size == 0
    with_rr, _ = record_features(record, window, features=frozenset({"rr_features"}))
    assert np.array_equal(with_rr.rr_features, full.rr_features)
    with pytest.raises(ConfigError, match="qrs_window"):
        record_features(record, window, features=frozenset({"qrs_window"}))
