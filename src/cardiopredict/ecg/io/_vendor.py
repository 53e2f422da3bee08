"""Vendor formats through ``ecgdatakit``: DICOM waveform, GE MUSE XML, Philips XML, HL7 aECG, SCP-ECG.

``ecgdatakit`` parses the file and scales samples to mV; this module keeps only the rhythm leads,
their sampling rate and non-identifying facts. Patient demographics, names, IDs, dates and device
serials that ``ecgdatakit`` extracts are dropped here and never reach ``ECGRecord.meta``.

Safety and fallbacks:

* every XML file is first parsed with ``defusedxml`` (entity declarations and external references are
  refused) before ``ecgdatakit`` sees it: its Philips parser uses ``xmltodict`` rather than defusedxml;
* DICOM falls back to ``pydicom``'s own waveform decoding when ``ecgdatakit`` cannot read the file.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict.ecg.io._raw import RawECG, mv_factor
from cardiopredict.errors import (
    CorruptFileError,
    ECGFormatError,
    EmptyDataError,
    SamplingRateError,
    UnitError,
)

XML_FORMATS = ("muse-xml", "philips-xml", "hl7-aecg")
_RATE_WORDS = re.compile(r"sampl\w* ?(rate|base|frequency)|samplebase|time increment|sampling", re.IGNORECASE)
# ecgdatakit parser class for each of our format names: the file must be read by the parser we
# detected, not by whichever parser claims it first.
_PARSERS = {
    "dicom": "DICOMWaveformParser",
    "muse-xml": "GEMuseXMLParser",
    "philips-xml": "SierraXMLParser",
    "hl7-aecg": "HL7aECGParser",
    "scp-ecg": "SCPECGParser",
}


def read_vendor(fmt: str, path: Path) -> RawECG:
    """Read a vendor-format file (``fmt`` as detected by :func:`sniff_format`)."""
    if fmt in XML_FORMATS:
        _check_xml(path, fmt)
    try:
        return _read_with_ecgdatakit(fmt, path)
    except CorruptFileError:
        if fmt != "dicom":
            raise
        return _read_dicom_with_pydicom(path)


def _read_with_ecgdatakit(fmt: str, path: Path) -> RawECG:
    parsed = _parse_with_ecgdatakit(fmt, path)
    leads = [lead for lead in parsed.leads if len(lead.samples)]
    if not leads:
        raise EmptyDataError(
            f"{fmt} file {path} holds no rhythm waveform. Export the full-length 12-lead ECG."
        )
    rates = {float(lead.sampling_rate) for lead in leads}  # never rounded: 257.5 Hz stays 257.5 Hz
    if len(rates) > 1:
        raise ECGFormatError(
            f"Leads of {fmt} file {path} have different sampling rates ({sorted(rates)} Hz); "
            "cardiopredict needs one rate for all leads. Re-export at a single rate."
        )
    n_samples = max(len(lead.samples) for lead in leads)
    signal = np.full((len(leads), n_samples), np.nan)
    units: list[str | None] = []
    for row, lead in zip(signal, leads, strict=True):
        samples, unit = _scaled_samples(lead, source=f"{fmt} file {path}")
        row[: samples.size] = samples  # a shorter lead ends in NaN, reported as a quality flag
        units.append(unit)
    return RawECG(
        signal=signal,
        lead_names=[str(lead.label) for lead in leads],
        fs=rates.pop(),
        units=units,
        format=fmt,
        meta={"reader": f"ecgdatakit {_version('ecgdatakit')}"},
    )


def _parse_with_ecgdatakit(fmt: str, path: Path) -> Any:
    """ecgdatakit's parse of ``path`` by the parser of ``fmt``; its failures and checksum warnings named."""
    from ecgdatakit import ECGDataKitError, FileParser

    parser = next((cls for cls in FileParser().parsers if cls.__name__ == _PARSERS[fmt]), None)
    if parser is None:  # pragma: no cover - depends on the installed ecgdatakit
        raise ECGFormatError(
            f"The installed ecgdatakit has no {_PARSERS[fmt]}; cannot read {fmt} file {path}."
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parsed = parser().parse(path)
        except (ECGDataKitError, ValueError, KeyError, IndexError, TypeError, OSError, EOFError) as error:
            if _RATE_WORDS.search(str(error)):
                raise SamplingRateError(
                    f"{fmt} file {path} states no valid sampling rate ({_no_path(error, path)}); "
                    "cardiopredict never assumes one. Fix the rate field of the file or re-export it."
                ) from None
            raise CorruptFileError(
                f"{fmt} file {path} cannot be decoded ({type(error).__name__}: {_no_path(error, path)}). "
                "It is damaged, truncated or a variant ecgdatakit does not support; re-export it."
            ) from None
    checksum_failures = [
        w for w in caught if "checksum" in str(w.message).lower() or "crc" in str(w.message).lower()
    ]
    if checksum_failures:
        raise CorruptFileError(
            f"{fmt} file {path} fails its checksum ({checksum_failures[0].message}); the file is damaged. "
            "Re-export it."
        )
    return parsed


def _scaled_samples(lead: Any, *, source: str) -> tuple[np.ndarray, str | None]:
    """One lead's samples in the unit its file states (raw ADC counts scaled), and that unit."""
    samples = np.asarray(lead.samples, dtype=np.float64)
    if not lead.is_raw:
        return samples, lead.units or lead.resolution_unit or None
    if not lead.resolution_unit and lead.adc_resolution_unit:
        # ecgdatakit did not recognise the stated unit: ours may, else the message names it.
        mv_factor(lead.adc_resolution_unit, source=source, lead=str(lead.label))
        return samples * float(lead.adc_resolution or 1.0), lead.adc_resolution_unit
    if not lead.resolution_unit:
        raise UnitError(
            f"Lead {lead.label} of {source} has no amplitude scale (raw ADC counts of unknown size). "
            "Re-export with amplitude units, or convert it to CSV/WFDB with a known unit."
        )
    return samples * float(lead.resolution) + float(lead.offset), lead.resolution_unit


def _read_dicom_with_pydicom(path: Path) -> RawECG:
    """DICOM 12-lead waveform via pydicom: the rhythm multiplex group.

    That is the group labelled RHYTHM, else the longest one with at least 8 channels (a median beat
    group may come first).
    """
    import pydicom

    dataset = _dicom_waveform_dataset(path)
    groups = list(dataset.WaveformSequence)
    index = _rhythm_group_index(groups, path)
    group = groups[index]
    rate = group.get("SamplingFrequency")
    if rate is None or not np.isfinite(float(rate)) or float(rate) <= 0:
        raise SamplingRateError(
            f"DICOM file {path}: the waveform group states no valid SamplingFrequency (003A,001A) "
            f"({rate!r}); cardiopredict never assumes one. Re-export the ECG with its sampling frequency."
        )
    try:
        values = dataset.waveform_array(index)  # (n_samples, n_channels), scaled by channel sensitivity
    except (ValueError, KeyError) as error:
        raise CorruptFileError(
            f"DICOM waveform of {path} cannot be decoded ({error}); re-export it."
        ) from None
    names, units = _channel_names_and_units(group)
    return RawECG(
        signal=np.ascontiguousarray(values.T, dtype=np.float64),
        lead_names=names,
        fs=float(rate),
        units=units,
        format="dicom",
        meta={"reader": f"pydicom {pydicom.__version__}"},
    )


def _dicom_waveform_dataset(path: Path) -> Any:
    """The pydicom dataset of ``path``; CorruptFileError when unreadable, EmptyDataError without waveforms."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(path)
    except (InvalidDicomError, AttributeError, ValueError, OSError, EOFError) as error:
        raise CorruptFileError(
            f"DICOM file {path} cannot be parsed ({type(error).__name__}: {_no_path(error, path)}). It is "
            "damaged or truncated; re-export the ECG as DICOM 12-lead waveform."
        ) from None
    if "WaveformSequence" not in dataset:
        raise EmptyDataError(
            f"DICOM file {path} holds no waveform (no WaveformSequence (5400,0100); modality "
            f"{dataset.get('Modality', '?')}, SOP class {_sop_class_name(dataset) or '?'}). Export the ECG "
            "as a DICOM 12-lead waveform (SOP class 12-lead ECG Waveform Storage)."
        )
    return dataset


def _rhythm_group_index(groups: list[Any], path: Path) -> int:
    """Index of the group labelled RHYTHM, else of the longest group with at least 8 channels."""
    candidates = [i for i, group in enumerate(groups) if int(group.NumberOfWaveformChannels) >= 8]
    labelled = [i for i in candidates if "RHYTHM" in str(groups[i].get("MultiplexGroupLabel", "")).upper()]
    longest_first = sorted(candidates, key=lambda i: -int(groups[i].NumberOfWaveformSamples))
    index = (labelled or longest_first or [None])[0]
    if index is None:
        raise EmptyDataError(f"DICOM file {path} holds no multiplex group with 8 or more ECG channels.")
    return index


def _channel_names_and_units(group: Any) -> tuple[list[str], list[str | None]]:
    """Per channel of a waveform group: its lead name and its sensitivity unit code (None when absent)."""
    names: list[str] = []
    units: list[str | None] = []
    for channel in group.ChannelDefinitionSequence:
        source = channel.ChannelSourceSequence[0]
        names.append(str(source.get("CodeMeaning") or channel.get("ChannelLabel") or source.CodeValue))
        unit_seq = channel.get("ChannelSensitivityUnitsSequence")
        units.append(str(unit_seq[0].CodeValue) if unit_seq else None)
    return names, units


def _sop_class_name(dataset: object) -> str:
    uid = getattr(dataset, "SOPClassUID", None)
    return str(getattr(uid, "name", "") or "")


# The element that holds the samples in each XML format (namespace-free local name, lower case).
_XML_WAVEFORM = {"muse-xml": "waveformdata", "philips-xml": "parsedwaveforms", "hl7-aecg": "digits"}


def _check_xml(path: Path, fmt: str) -> None:
    """Parse with defusedxml (entities and external references refused); refuse a file without samples."""
    import xml.etree.ElementTree as ElementTree

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(path.read_bytes())
    except DefusedXmlException as error:
        raise ECGFormatError(
            f"XML file {path} declares entities or external references ({type(error).__name__}), which "
            "cardiopredict refuses for security. Re-export the ECG without a DTD internal subset."
        ) from None
    except LookupError as error:  # the XML declaration names an encoding Python does not know
        raise CorruptFileError(
            f"XML file {path} declares an unknown character encoding ({error}); fix its <?xml ... "
            "encoding=...?> line (e.g. UTF-8 or ISO-8859-1) or re-export it."
        ) from None
    except ElementTree.ParseError as error:
        # ecgdatakit retries with other encodings; a file broken for it too is reported there.
        if "encoding" not in str(error).lower() and "invalid token" not in str(error).lower():
            raise CorruptFileError(
                f"XML file {path} is not well-formed ({error}); it is truncated or damaged. Re-export it."
            ) from None
        return
    wanted = _XML_WAVEFORM[fmt]
    if not any(
        element.tag.rsplit("}", 1)[-1].lower() == wanted and (element.text or "").strip()
        for element in root.iter()
    ):
        raise EmptyDataError(
            f"{fmt} file {path} holds no waveform samples (no <{wanted}> element with data). It is a "
            "report or summary export; export the full 12-lead ECG with its rhythm waveform."
        )


def _no_path(error: BaseException, path: Path) -> str:
    return str(error).replace(str(path), path.name)[:200]


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover
        return "?"
