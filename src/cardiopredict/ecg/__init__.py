"""12-lead ECG: records, readers/writers, filtering, delineation, windows, measurements, simulation."""

from cardiopredict.ecg.leads import CANONICAL_LEADS, canonical_lead_name
from cardiopredict.ecg.record import ECGRecord

__all__ = ["CANONICAL_LEADS", "ECGRecord", "canonical_lead_name"]
