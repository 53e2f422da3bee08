"""Training the learned scar segmenter: labelled cases, k-fold CV with resume, manifests, learning."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cardiopredict.cmr.learned import LearnedScar
from cardiopredict.cmr.simulate import simulate_lge_phantom
from cardiopredict.errors import InputError
from cardiopredict.training.segmentation import (
    ScarTrainingConfig,
    assign_folds,
    cross_validate_scar,
    labelled_case,
    read_labelled_cases,
)

TINY = ScarTrainingConfig(channels=(4, 8), max_epochs=2, patience=1, batch_size=8)


def _phantoms(n: int, *, slices: int = 3) -> list:
    territories = ("LAD", "LCx", "RCA")
    return [
        simulate_lge_phantom(
            n_slices=slices, territory=territories[i % 3], rotation_deg=15.0 * i, patient_id=f"P{i}", seed=i
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def cases() -> list:
    return [labelled_case(study) for study in _phantoms(4, slices=2)]


def test_labelled_case_cuts_the_pipeline_crop_with_the_expert_scar_inside_the_myocardium(cases) -> None:
    case = cases[0]
    assert case.inputs.x.shape == (2, 2, 128, 128) and case.target.shape == (2, 128, 128)
    assert case.inputs.usable.all() and case.has_scar
    assert not ((case.target > 0) & (case.inputs.x[:, 1] == 0)).any()
    assert case.target.sum() > 0 and np.isfinite(case.rotation_deg).all()


def test_which_labels_count_as_scar_is_chosen() -> None:
    study = _phantoms(1)[0]
    labels = study.labels.copy()
    scar = np.argwhere(labels == 3)
    labels[tuple(scar[: len(scar) // 2].T)] = 4  # half of the scar becomes no-reflow (MVO)
    study = study.replace(labels=labels)
    both = labelled_case(study)
    infarct_only = labelled_case(study, scar_labels=(3,))
    assert both.truth.sum() == len(scar) and infarct_only.truth.sum() == len(scar) - len(scar) // 2
    binary = labelled_case(study, scar_mask=labels == 4)
    assert binary.truth.sum() == len(scar) // 2
    with pytest.raises(InputError, match="scar mask shape"):
        labelled_case(study, scar_mask=labels[:1] == 4)


def test_folds_are_patient_level_and_cover_every_case(cases) -> None:
    folds = assign_folds(cases, folds=2, seed=0)
    assert sorted(np.bincount(folds).tolist()) == [2, 2]
    with pytest.raises(Exception, match="folds"):
        assign_folds(cases, folds=5, seed=0)


def test_cross_validation_scores_every_case_once_trains_a_final_model_and_resumes(cases, tmp_path) -> None:
    out = tmp_path / "run"
    summary = cross_validate_scar(cases, out, folds=2, config=TINY)
    table = pd.read_csv(out / "per_case.csv", dtype={"patient_id": str})
    assert sorted(table.patient_id) == sorted(c.patient_id for c in cases)
    assert table.dice.between(0, 1).all() and summary["cases"] == 4 and summary["folds"] == 2
    run = json.loads((out / "run.json").read_text())
    for k in (0, 1):
        held = json.loads((out / f"fold{k}" / "heldout.json").read_text())
        trained_on = set(held["train_patients"]) | set(held["validation_patients"])
        assert not trained_on & set(held["per_case"])  # no held-out case was trained or stopped on
        assert {run["fold_of_case"][p] for p in held["per_case"]} == {k}
    final = LearnedScar.load(out / "final")
    assert final.describe()["training_data_sha256"] == run["data_sha256"]
    weights = out / "fold0" / "scar_model.safetensors"
    stamp = weights.stat().st_mtime_ns
    again = cross_validate_scar(cases, out, folds=2, config=TINY)
    assert weights.stat().st_mtime_ns == stamp and again["per_case_dice"] == summary["per_case_dice"]
    older = {**run, "config": {k: v for k, v in run["config"].items() if k != "tune_min_scar_percent"}}
    (out / "run.json").write_text(json.dumps(older))  # saved before the option existed: it ran without it
    with pytest.raises(InputError, match="other config"):
        cross_validate_scar(cases, out, folds=2, config=TINY)
    cross_validate_scar(cases, out, folds=2, config=replace(TINY, tune_min_scar_percent=False))
    assert weights.stat().st_mtime_ns == stamp
    with pytest.raises(InputError, match="--fresh"):
        cross_validate_scar(cases, out, folds=2, config=ScarTrainingConfig(channels=(4, 8), max_epochs=3))
    cross_validate_scar(cases, out, folds=2, config=TINY, fresh=True, final=False)
    assert weights.stat().st_mtime_ns != stamp and not (out / "final").exists()


def test_manifest_cases_read_every_label_source_and_exclude_bad_rows(tmp_path) -> None:
    import nibabel as nib

    rows = []
    for study in _phantoms(2, slices=2):
        folder = tmp_path / study.patient_id
        folder.mkdir()
        affine = np.diag([*study.pixel_spacing_mm, 8.0, 1.0])
        for name, array, dtype in (("lge", study.images, np.float32), ("gd", study.labels, np.uint8)):
            nib.save(
                nib.Nifti1Image(np.transpose(array, (1, 2, 0)).astype(dtype), affine),
                folder / f"{name}.nii.gz",
            )
        rows.append(
            {
                "patient_id": study.patient_id,
                "lge": f"{study.patient_id}/lge.nii.gz",
                "labels": f"{study.patient_id}/gd.nii.gz",
            }
        )
    rows.append({"patient_id": "gone", "lge": "gone/lge.nii.gz", "labels": ""})
    pd.DataFrame(rows).to_csv(tmp_path / "labelled.csv", index=False)
    cases, exclusions = read_labelled_cases(tmp_path / "labelled.csv")
    assert [c.patient_id for c in cases] == ["P0", "P1"] and all(c.has_scar for c in cases)
    assert exclusions == [{"patient_id": "gone", "reason": exclusions[0]["reason"]}]
    assert "not found" in exclusions[0]["reason"]


@pytest.mark.slow
def test_the_network_learns_phantom_scar_it_never_saw() -> None:
    """SYNTHETIC: trained on 4 phantoms, scored on 2 others; far above the untrained network."""
    import torch

    from cardiopredict.cmr.learned import build_scar_network, predict_probabilities
    from cardiopredict.cmr.scar import scar_dice
    from cardiopredict.training.segmentation import fit_scar_network

    cases = [labelled_case(study) for study in _phantoms(6, slices=2)]
    config = ScarTrainingConfig(channels=(8, 16), augment=False, batch_size=4, learning_rate=5e-3)

    def held_out_dice(network) -> float:
        return float(
            np.mean(
                [
                    scar_dice(predict_probabilities(network, c.inputs.x) >= 0.5, c.target > 0.5)
                    for c in cases[4:]
                ]
            )
        )

    torch.manual_seed(config.seed)
    untrained = build_scar_network("unet", **config.network_kwargs())
    trained, history = fit_scar_network(cases[:4], [], config=config, epochs=12)
    assert history["train_loss"][-1] < history["train_loss"][0]
    # measured (seed 0): 0.94 after 25 epochs; an untrained network scores near chance
    assert held_out_dice(trained) > 0.7 > held_out_dice(untrained) + 0.3, (
        held_out_dice(trained),
        held_out_dice(untrained),
    )


def test_a_fixed_cosine_budget_keeps_the_last_epoch_and_tunes_the_threshold_on_validation(cases) -> None:
    from cardiopredict.training._scar_fit import THRESHOLD_GRID
    from cardiopredict.training.segmentation import fit_scar_network

    config = replace(TINY, max_epochs=3, selection="last", lr_schedule="cosine", tune_threshold=True)
    _, history = fit_scar_network(cases[:3], cases[3:], config=config)
    assert history["best_epoch"] == history["epochs_run"] == 3
    rates = history["learning_rate"]
    assert rates[0] == config.learning_rate and rates[0] > rates[1] > rates[2] > 0
    assert None not in history["val_loss"] and None not in history["val_dice"]
    assert history["threshold"] in THRESHOLD_GRID and len(history["threshold_dice"]) == len(THRESHOLD_GRID)
    _, stopped = fit_scar_network(cases[:3], cases[3:], config=replace(config, selection="val_loss"))
    assert stopped["best_epoch"] == 1 + int(np.argmin(stopped["val_loss"]))
    _, final = fit_scar_network(cases, [], config=config, epochs=2)
    assert final["epochs_run"] == 2 and final["threshold"] == config.threshold  # nothing to tune on


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"selection": "best"}, "selection='best'; choose one of"),
        ({"lr_schedule": "step"}, "lr_schedule='step'"),
        ({"loss": "focal"}, "loss='focal'"),
        ({"threshold": 1.0}, r"threshold=1.0.*\(0, 1\)"),
    ],
)
def test_unknown_training_options_are_refused_by_name(option, message) -> None:
    from cardiopredict.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        ScarTrainingConfig(**option)


def _blob_case(truth: np.ndarray, spacing_mm: float = 1.0, myo: np.ndarray | None = None) -> SimpleNamespace:
    """What the post-processing fits read of a LabelledCase: expert scar, myocardium, pixel spacing."""
    myo = np.ones_like(truth) if myo is None else myo
    return SimpleNamespace(truth=truth, myo=myo, pixel_spacing_mm=(spacing_mm, spacing_mm))


def test_the_min_component_is_chosen_on_the_cases_given_and_ties_go_to_the_smaller() -> None:
    from cardiopredict.cmr.learned import MIN_COMPONENT_GRID_MM2
    from cardiopredict.training._scar_fit import choose_min_component

    big, speck = np.zeros((1, 40, 40), dtype=bool), np.zeros((1, 40, 40), dtype=bool)
    big[0, 5:15, 5:15] = True  # 100 mm²
    speck[0, 30:33, 30:33] = True  # 9 mm²
    # validation: the model adds a false-positive speck; held out: the speck is true scar
    validation = [_blob_case(big)]
    held_out = [_blob_case(big | speck)]
    masks = [big | speck]
    area, scores = choose_min_component(masks, validation)
    assert area == 10.0 and scores["10"] == 1.0 > scores["5"]  # 10 is the smallest area removing 9 mm²
    assert choose_min_component(masks, held_out)[0] == 0.0  # held-out data would keep everything
    assert list(scores) == [f"{a:g}" for a in MIN_COMPONENT_GRID_MM2]
    # at 0.5 mm pixels the same speck is 2.25 mm² and the blob 25 mm²: the physical area decides
    assert choose_min_component(masks, [_blob_case(big, spacing_mm=0.5)])[0] == 5.0
    with pytest.raises(InputError, match="1 masks for 0 cases"):
        choose_min_component(masks, [])


def test_the_min_scar_percent_is_chosen_on_the_cases_given_and_ties_go_to_the_smaller() -> None:
    from cardiopredict.cmr.learned import MIN_SCAR_PERCENT_GRID
    from cardiopredict.training._scar_fit import choose_min_scar_percent

    empty, trace, infarct = (np.zeros((1, 40, 40), dtype=bool) for _ in range(3))
    trace[0, 0, :24] = True  # 24 of 1600 myocardium pixels: 1.5 %
    infarct[0, 10:30, 10:30] = True  # 25 %
    # validation: a scar-free case with a trace of false scar, and a true infarct found right
    validation = [_blob_case(empty), _blob_case(infarct)]
    burden, scores = choose_min_scar_percent([trace, infarct], validation)
    assert burden == 2.0 and scores["2"] == 1.0 > scores["1"] == 0.5  # 2 % is the smallest that clears it
    assert list(scores) == [f"{b:g}" for b in MIN_SCAR_PERCENT_GRID]
    # held out, the trace is the expert's scar: those cases would keep everything
    assert choose_min_scar_percent([trace, infarct], [_blob_case(trace), _blob_case(infarct)])[0] == 0.0
    # burden is relative to the case's myocardium: in a 40-pixel myocardium the trace is 60 %
    small_myo = np.zeros_like(empty)
    small_myo[0, 0, :40] = True
    assert choose_min_scar_percent([trace], [_blob_case(trace, myo=small_myo)])[0] == 0.0
    with pytest.raises(InputError, match="choose_min_scar_percent: 2 masks for 1 cases"):
        choose_min_scar_percent([trace, infarct], validation[:1])


def test_cross_validation_fits_the_post_processing_on_inner_validation_cases_only(cases, tmp_path) -> None:
    from cardiopredict.cmr.learned import MIN_COMPONENT_GRID_MM2, MIN_SCAR_PERCENT_GRID
    from cardiopredict.training.segmentation import fit_postprocessing

    config = replace(TINY, tune_min_component=True, tune_min_scar_percent=True)
    summary = cross_validate_scar(cases, tmp_path / "run", folds=4, config=config)
    by_id = {c.patient_id: c for c in cases}
    areas, burdens = [], []
    for k in range(4):
        folder = tmp_path / "run" / f"fold{k}"
        held = json.loads((folder / "heldout.json").read_text())
        model = json.loads((folder / "scar_model.json").read_text())
        validation = [by_id[p] for p in held["validation_patients"]]
        assert validation and not set(held["validation_patients"]) & set(held["per_case"])
        assert held["min_component_mm2"] == model["min_component_mm2"] in MIN_COMPONENT_GRID_MM2
        assert held["min_scar_percent"] == model["min_scar_percent"] in MIN_SCAR_PERCENT_GRID
        refit = fit_postprocessing(folder, validation, min_scar_percent=True)
        assert (refit["min_component_mm2"], refit["min_scar_percent"]) == (
            model["min_component_mm2"],
            model["min_scar_percent"],
        )
        assert len(model["training"]["min_component_dice"]) == len(MIN_COMPONENT_GRID_MM2)
        assert len(model["training"]["min_scar_percent_dice"]) == len(MIN_SCAR_PERCENT_GRID)
        areas.append(model["min_component_mm2"])
        burdens.append(model["min_scar_percent"])
    assert summary["min_components_mm2"] == areas and summary["min_scar_percents"] == burdens
    final = LearnedScar.load(tmp_path / "run" / "final")
    assert final.min_component_mm2 == float(np.median(areas))
    assert final.min_scar_percent == float(np.median(burdens))
    plain = fit_postprocessing(tmp_path / "run" / "fold0", cases[:1], min_component=False)
    assert plain == {"min_component_mm2": 0.0, "min_scar_percent": 0.0}  # nothing asked, nothing fitted


def test_training_can_start_from_another_models_weights_and_records_it(cases, tmp_path) -> None:
    import torch

    from cardiopredict.cmr.learned import save_scar_model
    from cardiopredict.errors import ConfigError, ModelFileError
    from cardiopredict.training.segmentation import fit_scar_network

    network, _ = fit_scar_network(cases[:2], [], config=TINY, epochs=1)
    start = save_scar_model(
        network,
        tmp_path / "start",
        arch="unet",
        network_kwargs=TINY.network_kwargs(),
        training_data={"sha256": "other-set", "patients": ["X1", "X2"]},
    )
    still = replace(TINY, augment=False, learning_rate=1e-9, weight_decay=0.0, max_epochs=1)
    warm, _ = fit_scar_network(cases[2:], [], config=replace(still, init_from=str(start)), epochs=1)
    cold, _ = fit_scar_network(cases[2:], [], config=still, epochs=1)
    before = network.state_dict()
    gap = {
        name: float((warm.state_dict()[name] - w).abs().max())
        for name, w in before.items()
        if w.is_floating_point()
    }
    assert max(gap.values()) < 1e-5, max(gap.values())  # a near-zero learning rate: still the start's weights
    assert any(
        not torch.allclose(cold.state_dict()[n], w) for n, w in before.items() if w.is_floating_point()
    )
    with pytest.raises(ConfigError, match="network_kwargs"):
        fit_scar_network(
            cases[2:], [], config=replace(TINY, channels=(4, 8, 16), init_from=str(start)), epochs=1
        )
    with pytest.raises(ModelFileError, match="not a scar model folder"):
        fit_scar_network(cases[2:], [], config=replace(TINY, init_from=str(tmp_path)), epochs=1)
    cross_validate_scar(
        cases, tmp_path / "run", folds=2, config=replace(TINY, init_from=str(start)), final=False
    )
    record = LearnedScar.load(tmp_path / "run" / "fold0").config["training_data"]["initialised_from"]
    assert record["training_data_sha256"] == "other-set" and record["patients"] == 2
    assert record["patient_ids"] == ["X1", "X2"]
    assert record["weights_sha256"] == LearnedScar.load(start).config["weights_sha256"]
