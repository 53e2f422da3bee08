"""ScarNet: input contract, masking of padded slots, slot placement, learning, and run_cv / Ensemble."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from cardiopredict.config import TrainingConfig
from cardiopredict.errors import ConfigError, InputError
from cardiopredict.models import ScarNet, build_model, list_models, pad_slices
from cardiopredict.models.scarnet import _rotated, _spread


def _ring_slice(rng: np.random.Generator, *, scar_up: bool, size: int = 128) -> np.ndarray:
    """(2, size, size) [myocardium ring, scar arc] with the arc in the upper or lower half of the image."""
    rows, cols = np.mgrid[:size, :size] - size / 2
    radius = np.hypot(rows, cols)
    inner = rng.uniform(12, 18)
    ring = (radius >= inner) & (radius <= inner + rng.uniform(6, 10))
    # image angle: 0 at 12 o'clock (row < 0), clockwise
    angle = np.degrees(np.arctan2(cols, -rows)) % 360
    centre = (0.0 if scar_up else 180.0) + rng.uniform(-50, 50)
    width = rng.uniform(30, 70)
    arc = np.abs((angle - centre + 180) % 360 - 180) <= width / 2
    return np.stack([ring, ring & arc]).astype(np.float32)


def _cohort(n: int, *, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    stacks = [
        np.stack([_ring_slice(rng, scar_up=bool(label)) for _ in range(rng.integers(3, 7))])
        for label in labels
    ]
    return stacks, labels


def _inputs(stacks: list[np.ndarray]) -> dict[str, torch.Tensor]:
    slices, mask = pad_slices(stacks)
    return {"slices": torch.from_numpy(slices), "slice_mask": torch.from_numpy(mask)}


def test_registered_and_output_shapes() -> None:
    assert "scarnet" in list_models()
    stacks, _ = _cohort(4, seed=0)
    for pooling in ("ordered", "mean", "sum", "max"):
        model = build_model("scarnet", pooling=pooling).eval()
        assert model(_inputs(stacks)).shape == (4,)
    three = build_model("scarnet", n_outputs=3).eval()
    assert three(_inputs(stacks)).shape == (4, 3)


def test_pad_slices_packs_and_masks() -> None:
    stacks = [np.ones((3, 2, 16, 16)), 2 * np.ones((5, 2, 16, 16))]
    slices, mask = pad_slices(stacks, max_slices=6)
    assert slices.shape == (2, 6, 2, 16, 16) and slices.dtype == np.float32
    np.testing.assert_array_equal(mask, [[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]])
    assert slices[0, :3].min() == 1 and slices[0, 3:].max() == 0 and slices[1, 4].min() == 2


@pytest.mark.parametrize(
    ("stacks", "match"),
    [
        ([np.ones((11, 2, 16, 16))], "patient 0 has 11 slices; give 1 to 10"),
        ([np.ones((0, 2, 16, 16))], "patient 0 has 0 slices"),
        (
            [np.ones((3, 2, 16, 16)), np.ones((3, 3, 16, 16))],
            r"patient 1 has slices of shape \(3, 3, 16, 16\)",
        ),
        ([np.ones((2, 16, 16))], "patient 0 has slices of shape"),
        ([], "no patients given"),
    ],
)
def test_pad_slices_refuses_bad_stacks(stacks: list, match: str) -> None:
    with pytest.raises(InputError, match=match):
        pad_slices(stacks)


ENCODERS = [
    {},
    {"stem_stride": 2},
    {"spatial_pooling": "mean"},
    {"pixel_features": 4, "spatial_pooling": "mean"},
    {"representation": "polar"},
]


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("pooling", ["ordered", "mean", "sum", "max"])
def test_padded_slots_do_not_change_the_output(pooling: str, encoder: dict) -> None:
    stacks, _ = _cohort(3, seed=1)
    inputs = _inputs(stacks)
    model = build_model("scarnet", pooling=pooling, **encoder).eval()
    noisy = dict(inputs)
    noisy["slices"] = torch.where(
        inputs["slice_mask"][:, :, None, None, None] > 0, inputs["slices"], torch.rand_like(inputs["slices"])
    )
    with torch.no_grad():
        torch.testing.assert_close(model(inputs), model(noisy))


def test_order_free_pooling_ignores_slice_order_and_ordered_does_not() -> None:
    stacks, _ = _cohort(2, seed=2)
    reversed_stacks = [stack[::-1].copy() for stack in stacks]
    torch.manual_seed(0)
    with torch.no_grad():
        mean_model = build_model("scarnet", pooling="mean").eval()
        torch.testing.assert_close(mean_model(_inputs(stacks)), mean_model(_inputs(reversed_stacks)))
        ordered = build_model("scarnet", pooling="ordered").eval()
        assert not torch.allclose(ordered(_inputs(stacks)), ordered(_inputs(reversed_stacks)))


def test_spread_puts_base_first_and_apex_last() -> None:
    vectors = torch.arange(1.0, 11.0).reshape(1, 10, 1).repeat(2, 1, 1)
    mask = torch.zeros(2, 10)
    mask[0, :4] = 1  # 4 slices -> slots 0, 3, 6, 9
    mask[1, :1] = 1  # 1 slice -> slot 0
    spread, spread_mask = _spread(vectors * mask[..., None], mask)
    np.testing.assert_array_equal(spread_mask[0].numpy(), [1, 0, 0, 1, 0, 0, 1, 0, 0, 1])
    np.testing.assert_array_equal(spread[0, [0, 3, 6, 9], 0].numpy(), [1, 2, 3, 4])
    assert spread[0].sum() == 10 and spread_mask[1].tolist() == [1] + [0] * 9
    full = torch.ones(1, 10)
    torch.testing.assert_close(_spread(vectors[:1], full)[0], vectors[:1])


def test_input_errors_name_the_key_and_shape() -> None:
    model = build_model("scarnet").eval()
    slices, mask = pad_slices([np.zeros((3, 2, 128, 128))])
    with pytest.raises(InputError, match="inputs need 'slices' and 'slice_mask'"):
        model({"slices": torch.from_numpy(slices)})
    with pytest.raises(InputError, match=r"expected \(batch, 10, 2, 128, 128\)"):
        model({"slices": torch.zeros(1, 10, 3, 128, 128), "slice_mask": torch.from_numpy(mask)})
    with pytest.raises(InputError, match="has no real slice"):
        model({"slices": torch.from_numpy(slices), "slice_mask": torch.zeros(1, 10)})
    gap = torch.from_numpy(mask).clone()
    gap[0, 1], gap[0, 5] = 0.0, 1.0
    with pytest.raises(InputError, match="padded slot before a real one"):
        model({"slices": torch.from_numpy(slices), "slice_mask": gap})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pooling": "attention"},
        {"image_size": 100},
        {"width": 0},
        {"dropout": (0.5,)},
        {"mask_key": "slices"},
        {"stem_stride": 3},
        {"spatial_pooling": "max"},
        {"augment_rotation_deg": 200.0},
        {"pixel_features": -1},
        {"representation": "spherical"},
        {"representation": "polar", "pixel_features": 4},
    ],
)
def test_bad_options_are_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        build_model("scarnet", **kwargs)


def test_rotation_augments_training_only_and_keeps_padding_zero() -> None:
    stacks, _ = _cohort(3, seed=4)
    inputs = _inputs(stacks)
    torch.manual_seed(0)
    rotated = _rotated(inputs["slices"], 30.0)
    padded = inputs["slice_mask"] < 0.5
    assert rotated[padded].abs().max() == 0 and not torch.allclose(rotated, inputs["slices"])
    torch.manual_seed(0)
    plain = build_model("scarnet", dropout=(0.0, 0.0)).eval()
    torch.manual_seed(0)
    augmented = build_model("scarnet", dropout=(0.0, 0.0), augment_rotation_deg=30.0).eval()
    with torch.no_grad():
        torch.testing.assert_close(plain(inputs), augmented(inputs))  # no augmentation at evaluation
        plain.train()  # without dropout, only the rotation can differ
        augmented.train()
        assert not torch.allclose(plain(inputs), augmented(inputs))


def test_encoder_options_keep_the_output_shape() -> None:
    stacks, _ = _cohort(2, seed=5)
    for encoder in ENCODERS:
        assert build_model("scarnet", **encoder).eval()(_inputs(stacks)).shape == (2,)


def test_lge_channel_option_reads_three_channels() -> None:
    model = build_model("scarnet", in_channels=3).eval()
    stacks = [np.zeros((4, 3, 128, 128), dtype=np.float32)]
    assert model(_inputs(stacks)).shape == (1,)


def test_learns_scar_location_in_the_oriented_map() -> None:
    """Label = scar arc in the upper vs lower half: AUC > 0.9 after 8 epochs, on training and new patients."""
    torch.manual_seed(0)
    stacks, labels = _cohort(32, seed=3)
    inputs, y = _inputs(stacks), torch.from_numpy(labels).float()
    model: ScarNet = build_model("scarnet")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(8):
        model.train()
        for batch in torch.randperm(len(y), generator=generator).split(8):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                model({key: value[batch] for key, value in inputs.items()}), y[batch]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    new_stacks, new_labels = _cohort(24, seed=30)
    with torch.no_grad():
        scores = model.eval()(inputs).numpy()
        new_scores = model(_inputs(new_stacks)).numpy()
    assert roc_auc_score(labels, scores) > 0.9
    assert roc_auc_score(new_labels, new_scores) > 0.9


def test_run_cv_and_ensemble_accept_slice_inputs(tmp_path) -> None:
    from cardiopredict.training.artifacts import Ensemble
    from cardiopredict.training.crossval import make_folds, run_cv

    stacks, labels = _cohort(16, seed=4)
    slices, mask = pad_slices(stacks)
    pids = [f"P{i:02d}" for i in range(len(labels))]
    folds = make_folds(labels, pids, n_folds=2, seed=0)
    config = TrainingConfig(max_epochs=2, batch_size=8, early_stopping="none", seed=0)
    result = run_cv(
        {"slices": slices, "slice_mask": mask},
        labels,
        folds,
        patient_ids=pids,
        model="scarnet",
        model_kwargs={"width": 4, "slice_features": 8, "hidden_size": 8},
        config=config,
        out_dir=tmp_path,
    )
    assert result.oof_scores.shape == (16,) and np.isfinite(result.oof_scores).all()
    saved = json.loads((tmp_path / "model.json").read_text())
    assert (
        saved["model_kwargs"]["pooling"] == "ordered" and saved["model_kwargs"]["slice_positions"] == "spread"
    )
    ensemble = Ensemble.load(tmp_path)
    assert ensemble.input_keys == ("slices", "slice_mask")
    proba = ensemble.predict({"slices": slices, "slice_mask": mask})
    assert proba.shape == (16,) and ((proba > 0) & (proba < 1)).all()


def test_polar_unwrap_puts_the_scar_at_its_angle_across_the_wall() -> None:
    from cardiopredict.models._polar import polar_unwrap

    rows, cols = np.mgrid[:128, :128] - 63.5
    radius, angle = np.hypot(rows, cols), np.degrees(np.arctan2(rows, cols)) % 360  # 0 at 3, 90 at 6 o'clock
    ring = (radius >= 20) & (radius <= 28)
    scar = ring & (np.abs(angle - 90) <= 20) & (radius <= 24)  # subendocardial, inferior
    maps = polar_unwrap(
        torch.tensor(np.stack([ring, scar])[None], dtype=torch.float32), n_angles=96, n_depths=12
    )
    assert maps.shape == (1, 2, 12, 96)  # scar, thickness; depth x angle
    columns = maps[0, 0].amax(dim=0).numpy() > 0.5
    degrees = np.arange(96) * 360 / 96
    assert columns[np.abs(degrees - 90) <= 15].all() and not columns[np.abs(degrees - 90) >= 25].any()
    inferior = maps[0, 0, :, 24].numpy()  # 90 degrees
    assert inferior[:5].min() > 0.75 and inferior[7:].max() < 0.1  # inner half only (edge: partial volume)
    thickness = maps[0, 1, 0].numpy() * 10
    assert np.abs(thickness - 8).max() < 1.5  # the ring is 8-9 px thick


def test_polar_encoder_attributes_to_scar_not_to_the_myocardium_mask() -> None:
    stacks, _ = _cohort(2, seed=6)
    inputs = _inputs(stacks)
    model = build_model("scarnet", representation="polar", pooling="mean").eval()
    slices = inputs["slices"].clone().requires_grad_(True)
    model({"slices": slices, "slice_mask": inputs["slice_mask"]}).sum().backward()
    assert slices.grad[:, :, 1].abs().sum() > 0 and slices.grad[:, :, 0].abs().sum() == 0
