"""Valid seed files for the fuzz suite, one per reader, built once per session from the writers we ship.

Every fuzz test starts from one of these bytes, damages it (truncation, byte flips, header-field edits,
value injections) and checks that the reader returns a sound object or raises a ``CardioPredictError``.
``CARDIOPREDICT_FUZZ_EXAMPLES`` sets the examples per test (default 5: 280 in all).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = int(os.environ.get("CARDIOPREDICT_FUZZ_EXAMPLES", "5"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=10_000,  # ms per example: a hang fails the test (the machine is shared, so generous)
    derandomize=os.environ.get("CARDIOPREDICT_FUZZ_RANDOM") is None,  # reproducible in CI by default
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
"""Applied to each fuzz test (not loaded as a profile, so other hypothesis tests keep their settings)."""


@dataclass
class Seed:
    """A valid file: its name, bytes, companion files (e.g. a WFDB ``.dat``) and what reading it gives."""

    name: str
    data: bytes
    companions: dict[str, bytes] = field(default_factory=dict)
    fs: float | None = None
    text: bool = False

    def write(self, folder: Path, data: bytes | None = None) -> Path:
        """Write the (damaged) bytes and the companions into ``folder``; return the file to read."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, blob in self.companions.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(blob)
        path = folder / self.name
        path.write_bytes(self.data if data is None else data)
        return path


def _ecg_record():
    from cardiopredict.ecg.leads import CANONICAL_LEADS
    from cardiopredict.ecg.record import ECGRecord
    from tests.ecg.io.conftest import make_signal

    signal = make_signal(1500, seed=5)
    lead_i, lead_ii = signal[0], signal[1]
    signal[2], signal[3] = lead_ii - lead_i, -(lead_i + lead_ii) / 2
    signal[4], signal[5] = lead_i - lead_ii / 2, lead_ii - lead_i / 2
    return ECGRecord(signal=signal, fs=500.0, leads=CANONICAL_LEADS, record_id="seed")


def _ecg_seeds(folder: Path) -> dict[str, Seed]:
    from pydicom.data import get_testdata_file

    from cardiopredict.ecg.io import write_ecg
    from tests.ecg.io.conftest import hl7_aecg_xml, muse_xml, philips_xml, scp_ecg

    folder.mkdir(parents=True, exist_ok=True)
    record = _ecg_record()
    signal = record.signal.astype(np.float64)
    header = write_ecg(record, folder / "rec.hea")
    seeds = {
        "wfdb": Seed(
            "rec.hea", header.read_bytes(), {"rec.dat": (folder / "rec.dat").read_bytes()}, 500.0, True
        ),
        "xlsx": Seed("ecg.xlsx", write_ecg(record, folder / "ecg.xlsx").read_bytes(), fs=500.0),
        "csv": Seed("ecg.csv", write_ecg(record, folder / "ecg.csv").read_bytes(), fs=500.0, text=True),
        "dicom-ecg": Seed("ecg.dcm", Path(get_testdata_file("waveform_ecg.dcm")).read_bytes(), fs=None),
        "muse": Seed("muse.xml", muse_xml(signal), fs=500.0, text=True),
        "philips": Seed("philips.xml", philips_xml(signal), fs=500.0, text=True),
        "hl7-aecg": Seed("aecg.xml", hl7_aecg_xml(signal), fs=500.0, text=True),
        "scp": Seed("ecg.scp", scp_ecg(signal), fs=500.0),
    }
    # the WFDB signal file is fuzzed too, with its header kept intact
    seeds["wfdb-signal"] = Seed(
        "rec.dat", seeds["wfdb"].companions["rec.dat"], {"rec.hea": seeds["wfdb"].data}, 500.0
    )
    return seeds


def _lge_seeds(folder: Path) -> dict[str, Seed]:
    import nibabel as nib

    from tests.cmr.test_io import circle_xy, write_dicom_series, write_nifti

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 400, size=(24, 28, 3)).astype(np.float32)
    nii_gz = write_nifti(folder / "case_LGE.nii.gz", image)
    nii = write_nifti(folder / "case_LGE.nii", image)
    labels = np.zeros((24, 28, 3), np.uint16)  # MyoPS values: detected without a convention argument
    labels[8:16, 8:18] = 200
    labels[10:14, 10:16] = 500
    labels[9, 9] = 2221
    nib.save(nib.Nifti1Image(labels, nib.load(str(nii_gz)).affine), str(folder / "labels.nii.gz"))
    dicom = write_dicom_series(folder / "dicom", n=3, shape=(16, 20))
    slice_file = sorted(dicom.glob("*.dcm"))[0]
    others = {p.name: p.read_bytes() for p in sorted(dicom.glob("*.dcm"))[1:]}
    contours = {
        "slices": [
            {
                "slice": k,
                "epicardium": circle_xy((14.0, 12.0), 7.0, n=24).round(2).tolist(),
                "endocardium": circle_xy((14.0, 12.0), 4.0, n=24).round(2).tolist(),
                "insertion_point": [14.0, 5.5],
            }
            for k in range(3)
        ]
    }
    rows = ["slice,structure,x,y"] + [
        f"{k},{structure},{x:.2f},{y:.2f}"
        for k in range(3)
        for structure, radius in (("epicardium", 7.0), ("endocardium", 4.0))
        for x, y in circle_xy((14.0, 12.0), radius, n=12)
    ]
    return {
        "nifti-gz": Seed("case_LGE.nii.gz", nii_gz.read_bytes()),
        "nifti": Seed("case_LGE.nii", nii.read_bytes()),
        "label-map": Seed("labels.nii.gz", (folder / "labels.nii.gz").read_bytes()),
        "dicom-lge": Seed(slice_file.name, slice_file.read_bytes(), others),
        "contours-json": Seed("contours.json", json.dumps(contours).encode(), text=True),
        "contours-csv": Seed("contours.csv", ("\n".join(rows) + "\n").encode(), text=True),
    }


def _manifest_seed() -> Seed:
    rows = [
        "patient_id,response,ecg_pre,ecg_post,qrs_duration_ms,lbbb,lvef,sex,age",
        "P001,1,ecg/a.csv,,162,1,25,M,70",
        "P002,0,ecg/b.csv,ecg/c.csv,120,0,33.5,F,61",
        "P003,1,ecg/c.csv,,151,yes,,,81",
    ]
    files = {"ecg/a.csv": b"x", "ecg/b.csv": b"x", "ecg/c.csv": b"x"}
    return Seed("manifest.csv", ("\n".join(rows) + "\n").encode(), files, text=True)


@pytest.fixture(scope="session")
def seeds(tmp_path_factory) -> dict[str, Seed]:
    folder = tmp_path_factory.mktemp("fuzz_seeds")
    return {**_ecg_seeds(folder / "ecg"), **_lge_seeds(folder / "lge"), "manifest": _manifest_seed()}
