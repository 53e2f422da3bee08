"""One exception hierarchy for cardiopredict.

Every message names the input (file, row, lead, field), shows the offending value and says what to do.
Catch :class:`CardioPredictError` to handle anything this package raises on purpose.
"""

from __future__ import annotations


class CardioPredictError(Exception):
    """Base class of every error cardiopredict raises on purpose."""


class InputError(CardioPredictError, ValueError):
    """Bad input data: a file, a table, an array or an argument that cannot be used as given."""


# --- ECG -------------------------------------------------------------------------------------
class ECGFormatError(InputError):
    """The file is not in a format cardiopredict can read, or the format could not be detected."""


class CorruptFileError(InputError):
    """The file is truncated, damaged or internally inconsistent."""


class EmptyDataError(InputError):
    """A file, sheet or table holds no usable data."""


class LeadError(InputError):
    """A lead is missing, unknown or duplicated."""


class MissingLeadError(LeadError):
    """A lead needed for the 12-lead set is absent and cannot be derived."""


class UnknownLeadError(LeadError):
    """A lead name is not one of the canonical 12 leads or a known alias."""


class SamplingRateError(InputError):
    """The sampling rate is missing, not a number, or too low for the analysis."""


class UnitError(InputError):
    """A signal unit is unknown or cannot be converted to millivolts."""


class SignalQualityError(InputError):
    """A signal is unusable: all NaN, non-numeric, flat in every lead, or too short."""


class DelineationError(InputError):
    """QRS complexes could not be found or delineated in a record."""


# --- cohort ----------------------------------------------------------------------------------
class ManifestError(InputError):
    """A cohort manifest has bad rows. ``problems`` lists every one, not only the first."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        if self.problems:
            message = message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


class DuplicatePatientError(ManifestError):
    """The same patient_id appears more than once."""


# --- CMR -------------------------------------------------------------------------------------
class LGEFormatError(InputError):
    """An LGE study (DICOM series, NIfTI, contour file, label map) cannot be read as given."""


class MultipleSeriesError(LGEFormatError):
    """A DICOM folder holds more than one series; the message lists them."""


class ContourError(InputError):
    """A contour is malformed, outside the image, or inconsistent (endo not inside epi)."""


class GeometryError(InputError):
    """A geometric step (LV centre, insertion point, rotation, crop) cannot be done on this slice."""


# --- modelling -------------------------------------------------------------------------------
class ConfigError(CardioPredictError, ValueError):
    """A configuration value is out of range or inconsistent with another."""


class LeakageError(ConfigError):
    """An evaluation would score patients with something fitted on them (e.g. a scar model trained on
    the cohort's own expert labels)."""


class InsufficientDataError(InputError):
    """Too few patients (or too few of one class) for the requested analysis, e.g. k-fold CV."""


class ModelFileError(CardioPredictError):
    """A saved model (safetensors + JSON) is missing, corrupt or does not match its config."""


# --- CMRA (CMR readers, geometry, intensity) ---------------------------------------------------
class LabelConventionError(LGEFormatError):
    """A label map holds values of no known convention, or of several (pass ``label_convention=``)."""


class SpacingError(GeometryError):
    """The pixel spacing is missing or invalid; pass ``pixel_spacing_mm=(row_mm, col_mm)``."""


class EmptyMyocardiumError(GeometryError):
    """A slice has no myocardium (empty mask, or epi and endo contours enclose no pixel between them)."""


class InsertionPointError(GeometryError):
    """No RV insertion point: none given and no RV label touching the myocardium to derive one."""


class IntensityError(InputError):
    """Pixel values are unusable: non-finite, or constant inside the myocardium (min == max)."""
