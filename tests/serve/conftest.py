"""A tiny trained CRT fold ensemble (quick profile, combined pre+post model) and clients serving it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def serve_run(tmp_path_factory) -> Path:
    """Run folder of a quick CRT study on a 24-patient SYNTHETIC cohort (combined model only)."""
    from cardiopredict.cohort.synthetic import simulate_crt_cohort
    from cardiopredict.config import StudyProfile
    from cardiopredict.studies.crt import run_crt_study

    root = tmp_path_factory.mktemp("serve")
    manifest = simulate_crt_cohort(root / "cohort", n=24, seed=5, format="csv")
    run_crt_study(
        manifest, root / "run", inputs=("combined",), profile=StudyProfile.quick(seed=0), figures=False
    )
    return root / "run"


@pytest.fixture(scope="session")
def model_dir(serve_run: Path) -> Path:
    return serve_run / "models" / "combined"


@pytest.fixture(scope="session")
def ecg_pair(serve_run: Path) -> tuple[Path, Path]:
    """Pre- and post-implant ECG files (CSV) of the first cohort patient."""
    ecg = serve_run.parent / "cohort" / "ecg"
    return ecg / "crt0001_pre.csv", ecg / "crt0001_post.csv"


@pytest.fixture(scope="session")
def broken_model_dir(model_dir: Path, tmp_path_factory) -> Path:
    """A copy of the model whose first fold's weights are truncated."""
    broken = tmp_path_factory.mktemp("broken") / "run" / "models" / "combined"
    shutil.copytree(model_dir, broken)
    weights = broken / "fold0.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    return broken


@pytest.fixture(scope="session")
def upload_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("uploads")


@pytest.fixture(scope="session")
def served(model_dir: Path, broken_model_dir: Path):
    """The loaded models: ``crt-combined`` and the unloadable ``broken``."""
    from cardiopredict.serve import load_models

    return load_models([model_dir, f"broken={broken_model_dir}"])


@pytest.fixture(scope="session")
def client(served, upload_root: Path):
    from fastapi.testclient import TestClient

    from cardiopredict.serve import create_app

    with TestClient(create_app(served, upload_dir=upload_root)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def crt_files(ecg_pair: tuple[Path, Path]) -> dict[str, tuple[str, bytes]]:
    """Multipart ``files=`` argument of a CRT prediction."""
    pre, post = ecg_pair
    return {"pre": ("pre.csv", pre.read_bytes()), "post": ("post.csv", post.read_bytes())}


@pytest.fixture(scope="session")
def va_run(tmp_path_factory) -> Path:
    """Run folder of a quick VA study on a 16-patient SYNTHETIC LGE cohort (DICOM + contours)."""
    from cardiopredict.cohort.va import simulate_va_cohort
    from cardiopredict.config import StudyProfile
    from cardiopredict.studies.va import run_va_study

    root = tmp_path_factory.mktemp("serve_va")
    manifest = simulate_va_cohort(root / "cohort", n=16, seed=5)
    run_va_study(manifest, root / "run", profile=StudyProfile.quick(seed=0), figures=False)
    return root / "run"


@pytest.fixture(scope="session")
def va_model_dir(va_run: Path) -> Path:
    return va_run / "models" / "scarnet"


@pytest.fixture(scope="session")
def va_patient(va_run: Path) -> tuple[Path, Path]:
    """The DICOM series folder and the contour file of the first VA cohort patient."""
    cohort = va_run.parent / "cohort"
    return cohort / "lge" / "va0001", cohort / "contours" / "va0001.json"


@pytest.fixture(scope="session")
def va_zip(va_patient: tuple[Path, Path]) -> bytes:
    from tests.serve.lge_files import series_members, zip_bytes

    return zip_bytes(series_members(*va_patient))


@pytest.fixture(scope="session")
def served_all(model_dir: Path, va_model_dir: Path, broken_model_dir: Path):
    """``crt-combined``, ``va-scarnet`` and the unloadable ``broken``."""
    from cardiopredict.serve import load_models

    return load_models([model_dir, va_model_dir, f"broken={broken_model_dir}"])


@pytest.fixture(scope="session")
def va_client(served_all, upload_root: Path):
    from fastapi.testclient import TestClient

    from cardiopredict.serve import create_app

    with TestClient(create_app(served_all, upload_dir=upload_root)) as test_client:
        yield test_client
