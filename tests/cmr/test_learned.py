"""The learned scar segmenter: network, safetensors + JSON files, the ScarSegmenter contract, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cardiopredict.cmr.learned import (
    CONFIG_FILE,
    OUTSIDE_LOGIT,
    WEIGHTS_FILE,
    LearnedScar,
    build_scar_network,
    model_inputs,
    predict_probabilities,
    save_scar_model,
)
from cardiopredict.cmr.preprocess import preprocess_study
from cardiopredict.cmr.scar import ScarSegmenter, scar_method, segment_scar
from cardiopredict.cmr.simulate import simulate_lge_phantom
from cardiopredict.errors import ConfigError, InputError, ModelFileError

TINY = {"channels": [4, 8], "num_res_units": 1}


def _saved(tmp_path, *, size: int = 128, seed: int = 0):
    torch.manual_seed(seed)
    network = build_scar_network("unet", **TINY)
    return save_scar_model(
        network,
        tmp_path / "model",
        arch="unet",
        network_kwargs=TINY,
        training_data={"sha256": "0" * 64, "patients": ["a", "b"]},
        size=size,
    )


def test_logits_outside_the_myocardium_are_pinned_low() -> None:
    network = build_scar_network("unet", **TINY).eval()
    x = torch.rand(3, 2, 128, 128)
    x[:, 1] = 0.0
    x[:, 1, 40:80, 40:80] = 1.0
    with torch.inference_mode():
        logits = network(x)
    assert logits.shape == (3, 1, 128, 128)
    assert torch.all(logits[:, 0][x[:, 1] < 0.5] == OUTSIDE_LOGIT)
    assert torch.any(logits[:, 0][x[:, 1] > 0.5] != OUTSIDE_LOGIT)


def test_unknown_architecture_and_missing_einops_give_named_errors() -> None:
    with pytest.raises(InputError, match="unknown scar network"):
        build_scar_network("resnet")
    try:
        import einops  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="einops"):
            build_scar_network("swinunetr")
    else:
        network = build_scar_network("swinunetr").eval()
        with torch.inference_mode():
            assert network(torch.rand(1, 2, 128, 128)).shape == (1, 1, 128, 128)


def test_saved_model_loads_describes_itself_and_stays_inside_the_myocardium(tmp_path) -> None:
    folder = _saved(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == sorted([WEIGHTS_FILE, CONFIG_FILE])
    segmenter = scar_method(f"learned:{folder}", threshold=0.3)
    assert isinstance(segmenter, LearnedScar) and isinstance(segmenter, ScarSegmenter)
    described = json.loads(json.dumps(segmenter.describe(), allow_nan=False))
    assert described["name"] == "learned" and described["arch"] == "unet"
    assert (
        described["preprocessing"]["size"] == 128 and described["preprocessing"]["target_spacing_mm"] == 1.25
    )
    assert len(described["weights_sha256"]) == 64 and described["scar_labels"] == [3, 4]
    study = simulate_lge_phantom(n_slices=3, rotation_deg=20.0, seed=1)
    myo = study.myocardium_mask()
    result = segment_scar(study.images, myo, segmenter, pixel_spacing_mm=study.pixel_spacing_mm)
    assert result.mask.shape == study.images.shape and result.method == "learned"
    assert not (result.mask & ~myo).any() and not (result.gray_zone & result.mask).any()


def test_the_pipeline_runs_a_matching_model_and_refuses_other_preprocessing(tmp_path) -> None:
    study = simulate_lge_phantom(n_slices=4, seed=2)
    arrays = preprocess_study(study, scar=f"learned:{_saved(tmp_path)}")
    assert arrays.excluded is None and arrays.inputs.shape == (4, 2, 128, 128)
    assert not (arrays.inputs[:, 1] > arrays.inputs[:, 0]).any()
    other = LearnedScar.load(_saved(tmp_path / "small", size=96))
    with pytest.raises(InputError, match=r"other preprocessing \(size: model 96 vs pipeline 128"):
        preprocess_study(study, scar=other)


def test_model_folders_that_are_not_models_are_refused(tmp_path) -> None:
    with pytest.raises(ModelFileError, match="train-scar"):
        LearnedScar.load(tmp_path)
    (tmp_path / "weights.pt").write_bytes(b"\x80\x04pickle")
    with pytest.raises(ModelFileError, match="pickled weights are refused"):
        LearnedScar.load(tmp_path)
    folder = _saved(tmp_path)
    (folder / WEIGHTS_FILE).write_bytes((folder / WEIGHTS_FILE).read_bytes()[:100])
    with pytest.raises(ModelFileError, match="not a readable safetensors"):
        LearnedScar.load(folder)
    folder = _saved(tmp_path / "b")
    config = json.loads((folder / CONFIG_FILE).read_text())
    config["network_kwargs"] = {"channels": [8, 16], "num_res_units": 1}
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="do not fit"):
        LearnedScar.load(folder)


def test_model_inputs_are_the_pipelines_crops() -> None:
    study = simulate_lge_phantom(n_slices=3, rotation_deg=30.0, seed=3)
    arrays = preprocess_study(study, scar="labels", min_slices=1)
    myo = study.myocardium_mask()[arrays.slice_indices]
    cut = model_inputs(
        study.images[arrays.slice_indices],
        myo,
        pixel_spacing_mm=study.pixel_spacing_mm,
        rotation_deg=arrays.rotation_deg,
    )
    assert cut.usable.all()
    np.testing.assert_array_equal(cut.x[:, 0], arrays.lge)
    np.testing.assert_array_equal(cut.x[:, 1], arrays.inputs[:, 0])


def test_test_time_flips_make_predictions_flip_equivariant_and_are_recorded(tmp_path) -> None:
    torch.manual_seed(0)
    network = build_scar_network("unet", **TINY).eval()
    x = np.random.default_rng(0).random((2, 2, 64, 64), dtype=np.float32)
    x[:, 1] = (x[:, 1] > 0.3).astype(np.float32)
    flipped = np.ascontiguousarray(x[..., ::-1])
    plain = predict_probabilities(network, x)
    averaged = predict_probabilities(network, x, flips=True)
    again = predict_probabilities(network, flipped, flips=True)
    np.testing.assert_allclose(again, averaged[..., ::-1], atol=1e-6)  # the four views cancel a flip
    assert not np.allclose(plain, averaged) and (averaged[x[:, 1] < 0.5] < 1e-6).all()
    folder = _saved(tmp_path)
    assert LearnedScar.load(folder).describe()["test_time_flips"] is False
    assert LearnedScar.load(folder, test_time_flips=True).describe()["test_time_flips"] is True


def test_small_components_are_removed_by_physical_area_and_large_ones_kept() -> None:
    from cardiopredict.cmr.learned import remove_small_components

    mask = np.zeros((2, 40, 40), dtype=bool)
    mask[0, 2:4, 2:4] = True  # 4 pixels: a false-positive speck
    mask[0, 10:20, 10:20] = True  # 100 pixels: a true scar
    mask[1, 30, 30] = mask[1, 31, 31] = True  # diagonal neighbours: one 8-connected component of 2
    fine = remove_small_components(mask, pixel_spacing_mm=(0.5, 0.5), min_component_mm2=5.0)
    assert fine[0, 10:20, 10:20].all() and not fine[0, 2:4, 2:4].any() and not fine[1].any()
    coarse = remove_small_components(mask, pixel_spacing_mm=(1.5, 1.5), min_component_mm2=4.0)
    np.testing.assert_array_equal(coarse, mask)  # at 1.5 mm the speck is 9 mm², the diagonal pair 4.5 mm²
    np.testing.assert_array_equal(
        remove_small_components(mask, pixel_spacing_mm=(0.5, 0.5), min_component_mm2=0.0), mask
    )
    with pytest.raises(InputError, match=r"min_component_mm2=-1.0; give an area in mm² >= 0"):
        remove_small_components(mask, pixel_spacing_mm=(0.5, 0.5), min_component_mm2=-1.0)


def test_a_case_under_the_min_scar_percent_is_called_scar_free_and_others_kept() -> None:
    from cardiopredict.cmr.learned import remove_trace_scar

    myo = np.zeros((2, 20, 20), dtype=bool)
    myo[:, 5:15, 5:15] = True  # 200 myocardium pixels
    scar = np.zeros_like(myo)
    scar[0, 5, 5:8] = True  # 3 pixels: 1.5 %
    assert not remove_trace_scar(scar, myo, min_scar_percent=2.0).any()
    np.testing.assert_array_equal(remove_trace_scar(scar, myo, min_scar_percent=1.5), scar)  # not under
    np.testing.assert_array_equal(remove_trace_scar(scar, myo, min_scar_percent=0.0), scar)
    with pytest.raises(InputError, match=r"remove_trace_scar: min_scar_percent=-1\.0; give a burden"):
        remove_trace_scar(scar, myo, min_scar_percent=-1.0)
    with pytest.raises(InputError, match="same grid"):
        remove_trace_scar(scar, myo[:1], min_scar_percent=1.0)


def _post_processed_model(tmp_path, **post) -> tuple:
    """An untrained tiny model saved with ``post`` (post-processing values), and its scar of a phantom."""
    torch.manual_seed(0)
    folder = save_scar_model(
        build_scar_network("unet", **TINY),
        tmp_path / "model",
        arch="unet",
        network_kwargs=TINY,
        training_data={"sha256": "0" * 64, "patients": ["a"]},
        **post,
    )
    study = simulate_lge_phantom(n_slices=2, seed=4)
    myo = study.myocardium_mask()

    def scar(**override) -> np.ndarray:
        segmenter = LearnedScar.load(folder, **override)
        return segment_scar(study.images, myo, segmenter, pixel_spacing_mm=study.pixel_spacing_mm).mask

    return folder, study, scar


def test_min_scar_percent_is_saved_applied_and_overridable(tmp_path) -> None:
    # the untrained network marks well under 99 % of the myocardium
    folder, _, scar = _post_processed_model(tmp_path, min_scar_percent=99.0)
    assert LearnedScar.load(folder).describe()["min_scar_percent"] == 99.0
    assert scar().sum() == 0 < scar(min_scar_percent=0.0).sum()
    config = json.loads((folder / CONFIG_FILE).read_text())
    del config["min_scar_percent"]  # a model saved before the step existed keeps every case's scar
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    np.testing.assert_array_equal(scar(), scar(min_scar_percent=0.0))
    with pytest.raises(InputError, match=r"LearnedScar: min_scar_percent=100\.0"):
        LearnedScar.load(folder, min_scar_percent=100.0)


def test_min_component_is_saved_applied_overridable_and_refused_when_bad(tmp_path) -> None:
    from cardiopredict.cmr.learned import remove_small_components

    # the untrained network's "scar": one ring-sized part per slice
    folder, study, scar = _post_processed_model(tmp_path, min_component_mm2=1000.0)
    assert json.loads((folder / CONFIG_FILE).read_text())["min_component_mm2"] == 1000.0
    assert LearnedScar.load(folder).describe()["min_component_mm2"] == 1000.0
    everything = scar(min_component_mm2=0.0)
    expected = remove_small_components(
        everything, pixel_spacing_mm=study.pixel_spacing_mm, min_component_mm2=1000.0
    )
    np.testing.assert_array_equal(scar(), expected)
    assert everything.sum() > expected.sum() > 0 == scar(min_component_mm2=1e6).sum()
    with pytest.raises(InputError, match="LearnedScar: min_component_mm2=nan"):
        LearnedScar.load(folder, min_component_mm2=float("nan"))
    config = json.loads((folder / CONFIG_FILE).read_text())
    del config["min_component_mm2"]  # a model saved before the post-processing existed keeps everything
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    np.testing.assert_array_equal(scar(), everything)
    with pytest.raises(InputError, match=r"save_scar_model: min_component_mm2=-5\.0"):
        save_scar_model(
            build_scar_network("unet", **TINY),
            tmp_path / "bad",
            arch="unet",
            network_kwargs=TINY,
            training_data={"sha256": "0" * 64, "patients": ["a"]},
            min_component_mm2=-5.0,
        )


def test_training_patients_include_the_starting_networks_listed_cases(tmp_path) -> None:
    assert LearnedScar.load(_saved(tmp_path)).training_patients == {"a", "b"}
    network = build_scar_network("unet", **TINY)
    started = {
        "weights_sha256": "1" * 64,
        "training_data_sha256": "2" * 64,
        "patients": 1,
        "patient_ids": ["c"],
    }
    folder = save_scar_model(
        network,
        tmp_path / "warm",
        arch="unet",
        network_kwargs=TINY,
        training_data={"sha256": "0" * 64, "patients": ["a"], "initialised_from": started},
    )
    assert LearnedScar.load(folder).training_patients == {"a", "c"}
