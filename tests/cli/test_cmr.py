"""`cardiopredict cmr preprocess` and `cardiopredict cmr plot`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cardiopredict.cli import app
from cardiopredict.cmr.simulate import simulate_lge_phantom, write_lge_dicom

runner = CliRunner()


@pytest.fixture(scope="module")
def phantom_series(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmr_cli")
    write_lge_dicom(simulate_lge_phantom(n_slices=4, rotation_deg=40.0, patient_id="A", seed=0), root / "A")
    write_lge_dicom(simulate_lge_phantom(n_slices=2, patient_id="B", seed=1), root / "B")
    manifest = root / "manifest.csv"
    pd.DataFrame(
        [
            {"patient_id": "A", "lge": "A", "contours": "A/contours.json"},
            {"patient_id": "B", "lge": "B", "contours": "B/contours.json"},
        ]
    ).to_csv(manifest, index=False)
    return root, manifest


def test_preprocess_writes_arrays_and_reports_exclusions(phantom_series, tmp_path):
    _, manifest = phantom_series
    out = tmp_path / "arrays"
    result = runner.invoke(
        app,
        ["cmr", "preprocess", "--manifest", str(manifest), "--out", str(out), "--scar", "nsd", "--n-sd", "3"],
    )
    assert result.exit_code == 0, result.output
    assert "1 of 2 patients included (4 slices)" in result.output
    inputs = np.load(out / "inputs.npy", mmap_mode="r")
    assert inputs.shape == (4, 2, 128, 128)
    exclusions = pd.read_csv(out / "exclusions.csv", dtype=str)
    assert exclusions.patient_id.tolist() == ["B"]


def test_preprocess_bad_manifest_exits_cleanly(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("patient_id,image\nP1,x.nii.gz\n")
    result = runner.invoke(
        app, ["cmr", "preprocess", "--manifest", str(manifest), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "ManifestError" in result.output and "lge" in result.output
    assert "Traceback" not in result.output


def test_preprocess_refuses_an_unknown_scar_method(phantom_series, tmp_path):
    _, manifest = phantom_series
    result = runner.invoke(
        app,
        ["cmr", "preprocess", "--manifest", str(manifest), "--out", str(tmp_path / "o"), "--scar", "otsu"],
    )
    assert result.exit_code != 0 and "otsu" in result.output


def test_plot_draws_the_four_panel_figure(phantom_series, tmp_path):
    root, _ = phantom_series
    out = tmp_path / "fig2.png"
    result = runner.invoke(
        app,
        [
            "cmr",
            "plot",
            str(root / "A"),
            "--contours",
            str(root / "A" / "contours.json"),
            "--out",
            str(out),
            "--scar",
            "fwhm",
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_a_myocardium_exits_with_the_reason(phantom_series, tmp_path):
    root, _ = phantom_series
    result = runner.invoke(app, ["cmr", "plot", str(root / "A"), "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "no myocardium" in result.output
    assert not (tmp_path / "x.png").exists()
