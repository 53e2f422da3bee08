"""Tiny synthetic 12-lead records for the reader/writer tests."""

from __future__ import annotations

import numpy as np
import pytest

from cardiopredict.ecg.leads import CANONICAL_LEADS
from cardiopredict.ecg.record import ECGRecord


def make_signal(n_samples: int = 1000, fs: float = 500.0, seed: int = 0) -> np.ndarray:
    """(12, n_samples) float32 mV: a QRS-like spike train plus noise, a different amplitude per lead."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / fs
    beat = np.exp(-(((t % 0.8) - 0.3) ** 2) / (2 * 0.01**2))  # one 'QRS' every 800 ms
    gains = rng.uniform(-1.5, 1.5, size=(12, 1))
    noise = 0.02 * rng.standard_normal((12, n_samples))
    return (gains * beat + noise).astype(np.float32)


@pytest.fixture
def record() -> ECGRecord:
    return ECGRecord(signal=make_signal(), fs=500.0, leads=CANONICAL_LEADS, record_id="rec1")


# --- vendor files built from make_signal(), following each format's published structure ------------
MUSE_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")  # MUSE stores 8 leads; 4 are derived
UV_PER_BIT = 4.88


def muse_xml(signal_mv: np.ndarray, *, fs: int = 500, unit: str = "MICROVOLTS", crc_ok: bool = True) -> bytes:
    """GE MUSE ``<RestingECG>`` document: 8 rhythm leads as base64 little-endian int16."""
    import base64
    import zlib

    from cardiopredict.ecg.leads import CANONICAL_LEADS

    lead_xml = []
    for name in MUSE_LEADS:
        counts = np.round(signal_mv[CANONICAL_LEADS.index(name)] * 1000 / UV_PER_BIT).astype("<i2")
        payload = counts.tobytes()
        crc = zlib.crc32(payload) if crc_ok else zlib.crc32(payload) ^ 1
        lead_xml.append(
            f"<LeadData><LeadByteCountTotal>{len(payload)}</LeadByteCountTotal><LeadSampleSize>2</LeadSampleSize>"
            f"<LeadAmplitudeUnitsPerBit>{UV_PER_BIT}</LeadAmplitudeUnitsPerBit>"
            f"<LeadAmplitudeUnits>{unit}</LeadAmplitudeUnits><LeadID>{name}</LeadID>"
            f"<LeadDataCRC32>{crc}</LeadDataCRC32>"
            f"<WaveFormData>{base64.b64encode(payload).decode()}</WaveFormData></LeadData>"
        )
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        '<!DOCTYPE RestingECG SYSTEM "restecg.dtd">\n<RestingECG>'
        "<MuseInfo><MuseVersion>9.0.9.18167</MuseVersion></MuseInfo>"
        "<PatientDemographics><PatientID>MRN-998877</PatientID><PatientLastName>Doe</PatientLastName>"
        "<PatientFirstName>Janet</PatientFirstName><Gender>FEMALE</Gender></PatientDemographics>"
        "<TestDemographics><AcquisitionDate>03-14-2021</AcquisitionDate>"
        "<AcquisitionTime>10:12:00</AcquisitionTime></TestDemographics>"
        f"<Waveform><WaveformType>Rhythm</WaveformType><SampleBase>{fs}</SampleBase>"
        f"<SampleExponent>0</SampleExponent>{''.join(lead_xml)}</Waveform></RestingECG>\n"
    ).encode("latin-1")


def hl7_aecg_xml(signal_mv: np.ndarray, *, fs: int = 500, scale_unit: str = "uV") -> bytes:
    """HL7 aECG ``<AnnotatedECG>``: one SLIST_PQ sequence per lead (value = origin + scale * digit)."""
    from cardiopredict.ecg.leads import CANONICAL_LEADS

    scale = 2.5
    sequences = [
        '<component><sequence><code code="TIME_RELATIVE" codeSystem="2.16.840.1.113883.5.4"/>'
        '<value xsi:type="GLIST_PQ"><head value="0" unit="s"/>'
        f'<increment value="{1 / fs}" unit="s"/></value></sequence></component>'
    ]
    for name, row in zip(CANONICAL_LEADS, signal_mv, strict=True):
        digits = " ".join(str(int(v)) for v in np.round(row * 1000 / scale))
        sequences.append(
            f'<component><sequence><code code="MDC_ECG_LEAD_{name.upper()}" '
            'codeSystem="2.16.840.1.113883.6.24"/><value xsi:type="SLIST_PQ">'
            f'<origin value="0" unit="{scale_unit}"/><scale value="{scale}" unit="{scale_unit}"/>'
            f"<digits>{digits}</digits></value></sequence></component>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<AnnotatedECG xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<id root="61d1a24f-b47e-41aa-ae95-f8ac302f4eeb"/>'
        '<code code="93000" codeSystem="2.16.840.1.113883.6.12"/>'
        '<effectiveTime><low value="20210314101200"/><high value="20210314101210"/></effectiveTime>'
        "<componentOf><timepointEvent><componentOf><subjectAssignment><subject><trialSubject>"
        '<id extension="SUBJ-4711"/><subjectDemographicPerson><name><given>Janet</given><family>Doe</family>'
        "</name></subjectDemographicPerson></trialSubject></subject></subjectAssignment></componentOf>"
        "</timepointEvent></componentOf>"
        '<component><series><code code="RHYTHM" codeSystem="2.16.840.1.113883.5.4"/>'
        '<effectiveTime><low value="20210314101200"/></effectiveTime>'
        f"<component><sequenceSet>{''.join(sequences)}</sequenceSet></component></series></component>"
        "</AnnotatedECG>\n"
    ).encode()


@pytest.fixture
def vendor_signal() -> np.ndarray:
    """12 x 2000 samples (4 s at 500 Hz), Einthoven-consistent limb leads, mV."""
    signal = make_signal(2000, seed=3).astype(np.float64)
    lead_i, lead_ii = signal[0], signal[1]
    signal[2], signal[3] = lead_ii - lead_i, -(lead_i + lead_ii) / 2
    signal[4], signal[5] = lead_i - lead_ii / 2, lead_ii - lead_i / 2
    return signal


def philips_xml(signal_mv: np.ndarray, *, fs: int = 500, uv_per_count: float = 5.0) -> bytes:
    """Philips Sierra/PhilipsECG 1.04 ``<restingecgdata>``: uncompressed Base64 int16, lead after lead.

    Real exports usually XLI-compress ``<parsedwaveforms>``; this builder has no XLI encoder.
    """
    import base64

    from cardiopredict.ecg.leads import CANONICAL_LEADS

    counts = np.round(signal_mv * 1000 / uv_per_count).astype("<i2")
    n_samples = signal_mv.shape[1]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<restingecgdata xmlns="http://www3.medical.philips.com">'
        "<documentinfo><documenttype>PhilipsECG</documenttype><documentversion>1.04</documentversion>"
        "</documentinfo><patient><generalpatientdata><patientid>MRN-998877</patientid>"
        "<name><lastname>Doe</lastname><firstname>Janet</firstname></name></generalpatientdata></patient>"
        f"<dataacquisition><signalcharacteristics><samplingrate>{fs}</samplingrate>"
        f"<resolution>{uv_per_count}</resolution><signalsigned>true</signalsigned>"
        "<acquisitiontype>STD-12</acquisitiontype><numberchannelsvalid>12</numberchannelsvalid>"
        "<numberchannelsallocated>12</numberchannelsallocated></signalcharacteristics></dataacquisition>"
        f'<waveforms><parsedwaveforms numberofleads="12" leadlabels="{" ".join(CANONICAL_LEADS)}" '
        f'samplespersecond="{fs}" durationperchannel="{n_samples * 1000 // fs}" dataencoding="Base64" '
        f'compression="Uncompressed">{base64.b64encode(counts.tobytes()).decode()}</parsedwaveforms>'
        "</waveforms></restingecgdata>\n"
    ).encode()


SCP_LEAD_CODES = {"I": 1, "II": 2, "V1": 3, "V2": 4, "V3": 5, "V4": 6, "V5": 7, "V6": 8}


def scp_ecg(signal_mv: np.ndarray, *, fs: int = 500, nv_per_count: int = 5000) -> bytes:
    """SCP-ECG (EN 1064) record: sections 0, 1, 3, 6; 8 leads, uncompressed 16-bit amplitudes."""
    import binascii
    import struct

    from cardiopredict.ecg.leads import CANONICAL_LEADS

    def section(sid: int, body: bytes) -> bytes:
        body = body + b"\x00" * (len(body) % 2)
        reserved = b"SCPECG" if sid == 0 else b"\x00" * 6
        without_crc = struct.pack("<HIBB", sid, 16 + len(body), 20, 20) + reserved + body
        return struct.pack("<H", binascii.crc_hqx(without_crc, 0xFFFF)) + without_crc

    n = signal_mv.shape[1]
    names = list(SCP_LEAD_CODES)
    section1 = bytes([2]) + struct.pack("<H", 11) + b"MRN-998877\x00" + bytes([255, 0, 0])
    section3 = bytes([len(names), 0x04]) + b"".join(
        struct.pack("<IIB", 1, n, SCP_LEAD_CODES[name]) for name in names
    )
    data = [
        np.round(signal_mv[CANONICAL_LEADS.index(name)] * 1e6 / nv_per_count).astype("<i2").tobytes()
        for name in names
    ]
    section6 = struct.pack("<HHBB", nv_per_count, round(1e6 / fs), 0, 0)
    section6 += b"".join(struct.pack("<H", len(chunk)) for chunk in data) + b"".join(data)
    bodies = {1: section1, 3: section3, 6: section6}
    # Section 0 holds 12 pointers (id, length, 1-based byte index); its own size is fixed: 16 + 12 * 10.
    offset = 6 + 16 + 12 * 10
    built: dict[int, bytes] = {}
    pointers = [(0, 16 + 12 * 10, 7)]
    for sid in range(1, 12):
        if sid in bodies:
            built[sid] = section(sid, bodies[sid])
            pointers.append((sid, len(built[sid]), offset + 1))
            offset += len(built[sid])
        else:
            pointers.append((sid, 0, 0))
    section0 = section(0, b"".join(struct.pack("<HII", *pointer) for pointer in pointers))
    body = section0 + b"".join(built[sid] for sid in sorted(built))
    size = 6 + len(body)
    without_crc = struct.pack("<I", size) + body
    return struct.pack("<H", binascii.crc_hqx(without_crc, 0xFFFF)) + without_crc
