"""`cardiopredict cmr preprocess` and `cardiopredict cmr plot`."""

from __future__ import annotations

import json

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


@pytest.fixture(scope="module")
def labelled_nifti(tmp_path_factory):
    import nibabel as nib

    root = tmp_path_factory.mktemp("cmr_labelled")
    rows = []
    for i in range(3):
        study = simulate_lge_phantom(n_slices=3, rotation_deg=20.0 * i, patient_id=f"L{i}", seed=30 + i)
        affine = np.diag([*study.pixel_spacing_mm, 8.0, 1.0])
        for name, array, dtype in (("LGE", study.images, np.float32), ("gd", study.labels, np.uint8)):
            volume = nib.Nifti1Image(np.transpose(array, (1, 2, 0)).astype(dtype), affine)
            nib.save(volume, root / f"L{i}_{name}.nii.gz")
        rows.append({"patient_id": f"L{i}", "lge": f"L{i}_LGE.nii.gz", "labels": f"L{i}_gd.nii.gz"})
    manifest = root / "labelled.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return root, manifest


def test_train_scar_then_preprocess_and_plot_with_the_learned_model(labelled_nifti, tmp_path):
    root, manifest = labelled_nifti
    model = tmp_path / "scar"
    args = ["cmr", "train-scar", "--manifest", str(manifest), "--out", str(model), "--folds", "2"]
    result = runner.invoke(app, [*args, "--max-epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "held-out mean Dice" in result.output and f"learned:{model / 'final'}" in result.output
    assert len(pd.read_csv(model / "per_case.csv")) == 3
    scar = f"learned:{model / 'final'}"
    out = tmp_path / "arrays"
    result = runner.invoke(
        app, ["cmr", "preprocess", "--manifest", str(manifest), "--out", str(out), "--scar", scar]
    )
    assert result.exit_code == 0, result.output
    assert "3 of 3 patients included" in result.output
    figure = tmp_path / "panel.png"
    result = runner.invoke(
        app, ["cmr", "plot", str(root / "L0_LGE.nii.gz"), "--out", str(figure), "--scar", scar]
    )
    assert result.exit_code == 0, result.output
    assert figure.read_bytes()[:4] == b"\x89PNG"
    warm = tmp_path / "warm"
    args = ["cmr", "train-scar", "--manifest", str(manifest), "--folds", "2", "--max-epochs", "1"]
    start = ["--init-from", str(model / "final"), "--min-scar-percent"]
    result = runner.invoke(app, [*args, "--out", str(warm), *start])
    assert result.exit_code == 0, result.output
    saved = json.loads((warm / "fold0" / "scar_model.json").read_text())
    assert "initialised_from" in saved["training_data"]
    assert json.loads((warm / "run.json").read_text())["config"]["tune_min_scar_percent"] is True
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "w2"), "--init-from", str(tmp_path)])
    assert result.exit_code != 0 and "not a scar model folder" in result.output


def test_preprocess_exits_1_only_when_no_patient_is_usable(tmp_path):
    manifest = tmp_path / "m.csv"
    pd.DataFrame([{"patient_id": "X", "lge": "nowhere"}, {"patient_id": "Y", "lge": "gone"}]).to_csv(
        manifest, index=False
    )
    result = runner.invoke(
        app, ["cmr", "preprocess", "--manifest", str(manifest), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert "0 of 2 patients included" in result.output and "no patient could be used" in result.output
    exclusions = pd.read_csv(tmp_path / "o" / "exclusions.csv")
    assert list(exclusions.patient_id) == ["X", "Y"]


def test_n_sd_is_refused_with_another_scar_method(phantom_series, tmp_path):
    _, manifest = phantom_series
    args = ["cmr", "preprocess", "--manifest", str(manifest), "--out", str(tmp_path / "o")]
    result = runner.invoke(app, [*args, "--scar", "fwhm", "--n-sd", "3"])
    assert result.exit_code == 2 and "--n-sd applies to --scar nsd only" in result.output
