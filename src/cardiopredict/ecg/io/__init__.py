"""Read and write 12-lead ECG files.

:func:`read_ecg` detects the format from the content and returns an
:class:`~cardiopredict.ecg.record.ECGRecord` (12 canonical leads, mV, float32). Supported: WFDB,
Excel/CSV in the clinical-export layout (``docs/DATA_FORMATS.md``), DICOM 12-lead waveform, GE MUSE XML,
Philips XML, HL7 aECG, SCP-ECG. :func:`write_ecg` writes xlsx, csv and WFDB; :func:`write_xlsx_sheets`
is the one xlsx writer (one ECG per sheet).
"""

from cardiopredict.ecg.io._api import read_ecg, read_ecg_workbook, write_ecg, write_ecg_workbook
from cardiopredict.ecg.io._quality import QUALITY_FLAGS, RECORD_FLAGS, degraded_leads, quality_issues
from cardiopredict.ecg.io._sniff import FORMATS
from cardiopredict.ecg.io._xlsx import write_xlsx_sheets

__all__ = [
    "FORMATS",
    "QUALITY_FLAGS",
    "RECORD_FLAGS",
    "degraded_leads",
    "quality_issues",
    "read_ecg",
    "read_ecg_workbook",
    "write_ecg",
    "write_ecg_workbook",
    "write_xlsx_sheets",
]
