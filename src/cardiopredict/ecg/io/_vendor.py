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

import warnings
from pathlib import Path

import numpy as np

from cardiopredict.ecg.io._raw import RawECG, mv_factor
from cardiopredict.errors import CorruptFileError, ECGFormatError, EmptyDataError, UnitError

XML_FORMATS = ("muse-xml", "philips-xml", "hl7-aecg")
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
        _check_xml_is_safe(path)
    try:
        return _read_with_ecgdatakit(fmt, path)
    except CorruptFileError:
        if fmt != "dicom":
            raise
        return _read_dicom_with_pydicom(path)


def _read_with_ecgdatakit(fmt: str, path: Path) -> RawECG:
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
    leads = [lead for lead in parsed.leads if len(lead.samples)]
    if not leads:
        raise EmptyDataError(
            f"{fmt} file {path} holds no rhythm waveform. Export the full-length 12-lead ECG."
        )
    rates = {int(lead.sampling_rate) for lead in leads}
    if len(rates) > 1:
        raise ECGFormatError(
            f"Leads of {fmt} file {path} have different sampling rates ({sorted(rates)} Hz); "
            "cardiopredict needs one rate for all leads. Re-export at a single rate."
        )
    n_samples = max(len(lead.samples) for lead in leads)
    signal = np.full((len(leads), n_samples), np.nan)
    units: list[str | None] = []
    for row, lead in zip(signal, leads, strict=True):
        samples = np.asarray(lead.samples, dtype=np.float64)
        if lead.is_raw:
            if not lead.resolution_unit and lead.adc_resolution_unit:
                # ecgdatakit did not recognise the stated unit: ours may, else the message names it.
                mv_factor(lead.adc_resolution_unit, source=f"{fmt} file {path}", lead=str(lead.label))
                samples = samples * float(lead.adc_resolution or 1.0)
                units.append(lead.adc_resolution_unit)
            elif not lead.resolution_unit:
                raise UnitError(
                    f"Lead {lead.label} of {fmt} file {path} has no amplitude scale "
                    "(raw ADC counts of unknown size). Re-export with amplitude units, "
                    "or convert it to CSV/WFDB with a known unit."
                )
            else:
                samples = samples * float(lead.resolution) + float(lead.offset)
                units.append(lead.resolution_unit)
        else:
            units.append(lead.units or lead.resolution_unit or None)
        row[: samples.size] = samples  # a shorter lead ends in NaN, reported as a quality flag
    return RawECG(
        signal=signal,
        lead_names=[str(lead.label) for lead in leads],
        fs=float(rates.pop()),
        units=units,
        format=fmt,
        meta={"reader": f"ecgdatakit {_version('ecgdatakit')}"},
    )


def _read_dicom_with_pydicom(path: Path) -> RawECG:
    """DICOM 12-lead waveform via pydicom: the rhythm multiplex group.

    That is the group labelled RHYTHM, else the longest one with at least 8 channels (a median beat
    group may come first).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(path)
        groups = list(dataset.WaveformSequence)
    except (InvalidDicomError, AttributeError, ValueError, OSError, EOFError) as error:
        raise CorruptFileError(
            f"DICOM file {path} has no readable waveform ({type(error).__name__}). It is damaged or not a "
            "waveform object (an image?); export the ECG as DICOM 12-lead waveform."
        ) from None
    candidates = [i for i, group in enumerate(groups) if int(group.NumberOfWaveformChannels) >= 8]
    labelled = [i for i in candidates if "RHYTHM" in str(groups[i].get("MultiplexGroupLabel", "")).upper()]
    longest_first = sorted(candidates, key=lambda i: -int(groups[i].NumberOfWaveformSamples))
    index = (labelled or longest_first or [None])[0]
    if index is None:
        raise EmptyDataError(f"DICOM file {path} holds no multiplex group with 8 or more ECG channels.")
    group = groups[index]
    try:
        values = dataset.waveform_array(index)  # (n_samples, n_channels), scaled by channel sensitivity
    except (ValueError, KeyError) as error:
        raise CorruptFileError(
            f"DICOM waveform of {path} cannot be decoded ({error}); re-export it."
        ) from None
    names, units = [], []
    for channel in group.ChannelDefinitionSequence:
        source = channel.ChannelSourceSequence[0]
        names.append(str(source.get("CodeMeaning") or channel.get("ChannelLabel") or source.CodeValue))
        unit_seq = channel.get("ChannelSensitivityUnitsSequence")
        units.append(str(unit_seq[0].CodeValue) if unit_seq else None)
    return RawECG(
        signal=np.ascontiguousarray(values.T, dtype=np.float64),
        lead_names=names,
        fs=float(group.SamplingFrequency),
        units=units,
        format="dicom",
        meta={"reader": f"pydicom {pydicom.__version__}"},
    )


def _check_xml_is_safe(path: Path) -> None:
    """Parse with defusedxml so entity expansion and external references are refused up front."""
    import xml.etree.ElementTree as ElementTree

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        fromstring(path.read_bytes())
    except DefusedXmlException as error:
        raise ECGFormatError(
            f"XML file {path} declares entities or external references ({type(error).__name__}), which "
            "cardiopredict refuses for security. Re-export the ECG without a DTD internal subset."
        ) from None
    except ElementTree.ParseError as error:
        # ecgdatakit retries with other encodings; a file broken for it too is reported there.
        if "encoding" not in str(error).lower() and "invalid token" not in str(error).lower():
            raise CorruptFileError(
                f"XML file {path} is not well-formed ({error}); it is truncated or damaged. Re-export it."
            ) from None


def _no_path(error: BaseException, path: Path) -> str:
    return str(error).replace(str(path), path.name)[:200]


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover
        return "?"
