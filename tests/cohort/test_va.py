"""Synthetic VA cohort: the drawn traits and outcome, the rendered stacks, the files on disk, bad input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from cardiopredict.cmr.io import read_lge
from cardiopredict.cmr.preprocess import load_cohort_arrays
from cardiopredict.cmr.scar import MYOCARDIUM_DENSITY_G_PER_ML, scar_dice, scar_method, segment_scar
from cardiopredict.cmr.simulate import simulate_infarct_lge
from cardiopredict.cohort.synthetic import oracle_auc
from cardiopredict.cohort.va import (
    HORIZON_DAYS,
    MANIFEST_COLUMNS,
    draw_va_cohort,
    infarct_spec,
    simulate_va_cohort,
)
from cardiopredict.errors import InputError, InsufficientDataError
from cardiopredict.features import preprocess_cohort


@pytest.fixture(scope="module")
def drawn() -> pd.DataFrame:
    """5000 patients' traits and outcomes, no images (about a second)."""
    return draw_va_cohort(5000, seed=11)[0]


def test_event_rate_and_oracle_beats_lvef_and_scar_burden(drawn: pd.DataFrame) -> None:
    y = drawn["va_event"].to_numpy()
    assert 0.20 <= y.mean() <= 0.30
    oracle = roc_auc_score(y, drawn["p_va_event"])
    lvef_rule = roc_auc_score(y, (drawn["lvef"] <= 35).astype(float))
    scar_burden = roc_auc_score(y, drawn["scar_pct"])
    assert 0.77 <= oracle <= 0.86
    assert 0.53 <= lvef_rule <= 0.64
    assert oracle > scar_burden + 0.08 and scar_burden > lvef_rule
    # the substrate, not the size: gray zone and channels carry signal beyond the scar %
    assert roc_auc_score(y, drawn["gray_zone_g"]) > scar_burden


def test_p_va_event_is_the_probability_of_the_label(drawn: pd.DataFrame) -> None:
    bins = pd.qcut(drawn["p_va_event"], 5, labels=False)
    table = drawn.groupby(bins).agg(observed=("va_event", "mean"), expected=("p_va_event", "mean"))
    np.testing.assert_allclose(table["observed"], table["expected"], atol=0.05)


def test_lvef_falls_with_infarct_size_only_loosely(drawn: pd.DataFrame) -> None:
    r = np.corrcoef(drawn["scar_pct"], drawn["lvef"])[0, 1]
    assert -0.6 < r < -0.15
    assert drawn["lvef"].between(15, 65).all() and 0.1 < (drawn["lvef"] <= 35).mean() < 0.5


def test_time_to_event_is_consistent_with_the_binary_composite(drawn: pd.DataFrame) -> None:
    t, event, binary = drawn["time_to_event_days"], drawn["event"], drawn["va_event"]
    assert (t > 0).all()
    assert (event[binary == 1] == 1).all() and (t[binary == 1] <= HORIZON_DAYS).all()
    assert (t[binary == 0] >= HORIZON_DAYS).all()  # administrative censoring only after the horizon
    assert 0 < ((event == 1) & (binary == 0)).sum() < (binary == 1).sum()


def test_acquisition_and_anatomy_within_the_stated_ranges(drawn: pd.DataFrame) -> None:
    assert drawn["n_slices"].between(6, 12).all()
    assert drawn["slice_spacing_mm"].between(8, 10).all()
    assert drawn["pixel_spacing_mm"].between(1.2, 1.8).all()
    assert drawn["matrix"].between(160, 256).all()
    assert set(drawn["territory"]) == {"LAD", "LCx", "RCA"}
    assert 0.15 < (drawn["n_channels"] > 0).mean() < 0.5
    assert (drawn["core_g"] > 0).all() and (drawn["gray_zone_g"] > 0).all()


def test_rendered_truth_matches_the_true_features_and_the_pipeline_finds_the_scar() -> None:
    patients, streams = draw_va_cohort(12, seed=5)
    with_channels = np.flatnonzero(patients["n_channels"].to_numpy() > 0)
    assert with_channels.size >= 2
    for k in [0, 1, *with_channels[:2]]:
        row = patients.iloc[k]
        phantom = simulate_infarct_lge(infarct_spec(row), seed=streams[k])
        grams_per_pixel = (
            row.pixel_spacing_mm**2 * row.slice_spacing_mm / 1000.0 * MYOCARDIUM_DENSITY_G_PER_ML
        )
        assert phantom.core.sum() * grams_per_pixel == pytest.approx(row.core_g, rel=0.1)
        assert phantom.gray_zone.sum() * grams_per_pixel == pytest.approx(row.gray_zone_g, rel=0.1)
        study = phantom.study
        myo = study.myocardium_mask()
        found = segment_scar(
            study.images, myo, scar_method("hysteresis"), pixel_spacing_mm=study.pixel_spacing_mm
        )
        assert scar_dice(found.mask, (phantom.core | phantom.gray_zone) & myo) > 0.6
        if row.n_channels:  # channels stay holes in the scar mask, where a CNN on the masks can see them
            assert (found.mask & phantom.channel).sum() < 0.4 * phantom.channel.sum()


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_tiny_dicom_cohort_reads_back_and_preprocesses(tmp_path: Path) -> None:
    manifest_path = simulate_va_cohort(tmp_path / "a", n=4, seed=3)
    manifest = pd.read_csv(manifest_path, dtype={"patient_id": str})
    assert list(manifest.columns) == list(MANIFEST_COLUMNS)
    oracle = pd.read_csv(manifest_path.parent / "oracle.csv", dtype={"patient_id": str})
    assert {"p_va_event", "linear_predictor", "core_g", "gray_zone_g", "n_channels"} <= set(oracle.columns)
    assert oracle["patient_id"].tolist() == manifest["patient_id"].tolist()
    drawn = draw_va_cohort(4, seed=3)[0]
    np.testing.assert_allclose(oracle["p_va_event"], drawn["p_va_event"], atol=1e-6)
    row = manifest.iloc[0]
    study = read_lge(manifest_path.parent / row.lge, contours=manifest_path.parent / row.contours)
    assert 6 <= study.n_slices <= 12 and all(e is not None for e in study.epi)
    assert all(p is not None for p in study.insertion_points)
    assert "ImageOrientationPatient" in study.meta["orientation"]
    assert np.all(np.diff(study.slice_positions_mm) >= 8 - 1e-3)

    arrays = preprocess_cohort(manifest_path, tmp_path / "pre", scar="hysteresis")
    inputs, _, index = load_cohort_arrays(arrays)
    assert index["patient_id"].tolist() == manifest["patient_id"].tolist()
    assert index["n_slices"].between(3, 10).all()
    assert inputs.shape[1:] == (2, 128, 128) and inputs[:, 1].sum() > 0

    again = simulate_va_cohort(tmp_path / "b", n=4, seed=3)
    assert _digest(manifest_path.parent) == _digest(again.parent)


def test_nifti_cohort_keeps_geometry_and_contours(tmp_path: Path) -> None:
    manifest_path = simulate_va_cohort(tmp_path / "c", n=1, seed=4, format="nifti")
    row = pd.read_csv(manifest_path).iloc[0]
    drawn = draw_va_cohort(1, seed=4)[0].iloc[0]
    study = read_lge(manifest_path.parent / row.lge, contours=manifest_path.parent / row.contours)
    assert study.n_slices == drawn.n_slices and study.shape == (drawn.matrix, drawn.matrix)
    np.testing.assert_allclose(study.pixel_spacing_mm, [drawn.pixel_spacing_mm] * 2, rtol=1e-5)
    np.testing.assert_allclose(np.diff(study.slice_positions_mm), drawn.slice_spacing_mm, rtol=1e-4)
    assert "affine" in study.meta["orientation"] and all(p is not None for p in study.insertion_points)


def test_bad_requests_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InsufficientDataError, match="n=0"):
        simulate_va_cohort(tmp_path / "x", n=0)
    with pytest.raises(InputError, match="format='png'"):
        simulate_va_cohort(tmp_path / "x", n=2, format="png")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="overwrite"):
        simulate_va_cohort(full, n=1)
    assert (full / "keep.txt").read_text() == "mine"
    simulate_va_cohort(full, n=1, overwrite=True)
    assert not (full / "keep.txt").exists() and (full / "manifest.csv").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_cli_simulate_va(tmp_path: Path) -> None:
    from cardiopredict.cli import app

    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app, ["simulate", "va", "--n", "2", "--seed", "1", "--out", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "manifest:" in result.output and "oracle AUC" in result.output
    assert pd.read_csv(out / "manifest.csv")["va_event"].mean() in (0.0, 0.5, 1.0)
    assert "va_event" in oracle_auc(out / "manifest.csv")
    refused = CliRunner().invoke(app, ["simulate", "va", "--n", "2", "--out", str(out), "--quiet"])
    assert refused.exit_code == 2 and "overwrite" in refused.output
