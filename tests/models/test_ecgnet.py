"""ECGNet / ECGCompositeNet shapes, weight sharing, options and the registry."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
import torch

from cardiopredict.errors import ConfigError, InputError
from cardiopredict.models import ECGCompositeNet, ECGNet, build_model, list_models, register_model
from cardiopredict.models._registry import resolved_kwargs

SMALL = {"channels": (4, 8, 16), "hidden_size": 8}


def _ecg(batch: int, n_samples: int = 250, *, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(
        np.random.default_rng(seed).normal(size=(batch, 12, n_samples)).astype(np.float32)
    )


def test_registry_lists_builtin_models() -> None:
    assert {"ecgnet", "ecgcomposite"} <= set(list_models())


def test_registry_refuses_duplicate_names() -> None:
    with pytest.raises(ValueError, match="already registered under the name 'ecgnet'"):
        register_model("ecgnet")(lambda **kwargs: ECGNet(**kwargs))


def test_register_and_build_new_model() -> None:
    name = f"tiny-{uuid.uuid4().hex}"

    @register_model(name)
    def tiny(*, n_outputs: int = 1) -> torch.nn.Module:
        return torch.nn.Linear(3, n_outputs)

    assert name in list_models()
    assert build_model(name, n_outputs=2).out_features == 2


def test_unknown_model_and_bad_kwargs_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"not registered; known models: .*ecgnet"):
        build_model("resnet-9000")
    with pytest.raises(ConfigError, match="bad keyword arguments"):
        build_model("ecgnet", n_filters=3)


def test_resolved_kwargs_fill_defaults_and_refuse_unknown() -> None:
    kwargs = resolved_kwargs("ecgnet", kernel_size=5)
    assert kwargs["kernel_size"] == 5 and kwargs["channels"] == (32, 64, 128) and kwargs["n_outputs"] == 1
    assert isinstance(build_model("ecgnet", **kwargs), ECGNet)
    with pytest.raises(ConfigError, match=r"takes no argument\(s\) \['n_filters'\]"):
        resolved_kwargs("ecgnet", n_filters=3)


@pytest.mark.parametrize("pooling", ["flatten", "avg", "max"])
def test_ecgnet_binary_and_multiclass_shapes(pooling: str) -> None:
    x = {"ecg": _ecg(3)}
    assert build_model("ecgnet", pooling=pooling, **SMALL)(x).shape == (3,)
    assert build_model("ecgnet", pooling=pooling, n_outputs=4, **SMALL)(x).shape == (3, 4)


def test_ecgnet_defaults_follow_the_paper() -> None:
    model = ECGNet()
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128]
    assert convs[0].in_channels == 1 and convs[0].kernel_size == (1, 7)  # one lead at a time
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.encoder.modules()) == 3
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in model.encoder.modules()) == 3
    assert (model.head.dropout_in.p, model.head.dropout_hidden.p) == (0.8, 0.5)


def test_lead_weights_are_shared() -> None:
    """The same waveform in every lead gives the same per-lead features (one set of filters)."""
    model = build_model("ecgnet", **SMALL).eval()
    one_lead = _ecg(2)[:, :1, :]
    features = model.encoder(one_lead.expand(2, 12, 250).contiguous()).reshape(2, 12, -1)
    assert torch.allclose(features, features[:, :1, :].expand_as(features), atol=1e-6)
    x = _ecg(2, seed=1)
    different = model.encoder(x).reshape(2, 12, -1)
    assert not torch.allclose(different[:, 0], different[:, 1])
    # each lead's features depend on that lead only: changing lead 5 changes only its block
    x[:, 5] += 1.0
    changed = model.encoder(x).reshape(2, 12, -1)
    unchanged_leads = [lead for lead in range(12) if lead != 5]
    assert torch.allclose(changed[:, unchanged_leads], different[:, unchanged_leads], atol=1e-6)
    assert not torch.allclose(changed[:, 5], different[:, 5])


def test_composite_trunks_have_separate_weights_and_json_kwargs_work() -> None:
    kwargs = json.loads(json.dumps({"input_keys": ("pre", "post"), "n_samples": 250, **SMALL}))
    model = build_model("ecgcomposite", **kwargs)
    assert isinstance(model, ECGCompositeNet)
    pre = model.encoders["pre"].blocks[0].weight
    post = model.encoders["post"].blocks[0].weight
    assert pre is not post and not torch.equal(pre, post)
    assert model({"pre": _ecg(5), "post": _ecg(5, seed=1)}).shape == (5,)
    assert model.input_keys == ("pre", "post")


def test_composite_per_key_lengths_and_scalars() -> None:
    model = build_model(
        "ecgcomposite",
        input_keys=["qrs", "rr"],
        n_samples=[250, 500],
        n_scalars=4,
        scalars_key="scalars",
        n_outputs=3,
        **SMALL,
    )
    inputs = {"qrs": _ecg(2), "rr": _ecg(2, 500), "scalars": torch.randn(2, 4)}
    assert model(inputs).shape == (2, 3)
    assert model.input_keys == ("qrs", "rr", "scalars")


def test_scalar_standardisation_is_fitted_and_imputes_nan() -> None:
    model = build_model(
        "ecgcomposite", input_keys=["qrs"], n_scalars=2, scalars_key="s", dropout=(0.0, 0.0), **SMALL
    ).eval()
    train = np.array([[800.0, 10.0], [1000.0, 30.0], [np.nan, 20.0]])
    model.fit_preprocessing({"s": train, "qrs": np.zeros((3, 12, 250))})
    np.testing.assert_allclose(model.scalar_mean.numpy(), [900.0, 20.0])
    np.testing.assert_allclose(model.scalar_scale.numpy(), [100.0, np.std([10.0, 30.0, 20.0])], rtol=1e-6)
    ecg = _ecg(1)
    at_mean = model({"qrs": ecg, "s": torch.tensor([[900.0, 20.0]])})
    missing = model({"qrs": ecg, "s": torch.tensor([[float("nan"), float("nan")]])})
    assert torch.allclose(at_mean, missing)
    assert "scalar_mean" in model.state_dict()  # saved with the weights


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pooling": "mean"}, "pooling='mean'"),
        ({"dropout": (1.2, 0.5)}, "two rates in"),
        ({"channels": ()}, "channel counts"),
        ({"n_samples": 6}, "too short"),
        ({"kernel_size": 0}, "must be >= 1"),
    ],
)
def test_bad_options_are_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_model("ecgnet", **kwargs)


def test_composite_bad_options() -> None:
    with pytest.raises(ConfigError, match="one per key"):
        build_model("ecgcomposite", input_keys=["pre", "post"], n_samples=[250])
    with pytest.raises(ConfigError, match="scalars need a key"):
        build_model("ecgcomposite", n_scalars=3)


def test_wrong_input_shape_or_key_is_input_error() -> None:
    model = build_model("ecgnet", **SMALL)
    with pytest.raises(InputError, match=r"expected \(batch, 12, 250\)"):
        model({"ecg": torch.zeros(2, 12, 200)})
    with pytest.raises(InputError, match="'ecg' is missing"):
        model({"pre": torch.zeros(2, 12, 250)})
