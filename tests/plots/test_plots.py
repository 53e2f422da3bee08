import numpy as np
import pandas as pd
import pytest
import torch

from cardiopredict.errors import ConfigError, InputError
from cardiopredict.evaluation.metrics import auc_score
from cardiopredict.plots import (
    integrated_gradients,
    plot_extreme_waveforms,
    plot_reliability,
    plot_roc,
    plot_saliency,
    plot_training_curves,
)

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    return path.is_file() and path.read_bytes()[:8] == PNG


@pytest.fixture
def captured(monkeypatch):
    """Record every figure handed to save_figure (to read legends and titles), still writing it."""
    import cardiopredict.plots.curves as curves
    import cardiopredict.plots.saliency as saliency
    import cardiopredict.plots.waveforms as waveforms

    figures = []
    original = waveforms.save_figure

    def spy(figure, out, **kwargs):
        figures.append(figure)
        return original(figure, out, **kwargs)

    for module in (waveforms, curves, saliency):
        monkeypatch.setattr(module, "save_figure", spy)
    return figures


def _legend_texts(figure):
    return [t.get_text() for ax in figure.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_extreme_waveforms_one_png_per_lead_top_and_bottom(tmp_path, captured):
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(10, 12, 50)).astype(np.float32)
    scores = np.linspace(0.05, 0.95, 10)
    pids = [f"PT{i:02d}" for i in range(10)]
    paths = plot_extreme_waveforms(windows, scores, pids, k=3, out_dir=tmp_path / "w", prefix="pre")
    assert [p.name for p in paths][:3] == ["pre_I.png", "pre_II.png", "pre_III.png"]
    assert len(paths) == 12 and all(_is_png(p) for p in paths)
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == sorted(
        p.name for p in paths
    )  # no temp files
    labels = _legend_texts(captured[0])
    shown = [label.split(": ")[1].split(" ")[0] for label in labels]
    assert shown == ["PT09", "PT08", "PT07", "PT00", "PT01", "PT02"]
    assert all(
        label.endswith(f"(score {scores[pids.index(pid)]:.3f})")
        for label, pid in zip(labels, shown, strict=True)
    )
    # the drawn traces are the patients' own samples
    ax = captured[0].axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), windows[9, 0])
    np.testing.assert_allclose(ax.lines[0].get_xdata()[:2], [0.0, 1.0])  # ms at 1000 Hz


def test_extreme_waveforms_lead_subset_and_validation(tmp_path):
    windows = np.zeros((6, 12, 20))
    paths = plot_extreme_waveforms(windows, np.arange(6.0), list("abcdef"), k=2, out_dir=tmp_path,
                                   prefix="x", leads=["I", "V4", 11])  # fmt: skip
    assert [p.name for p in paths] == ["x_I.png", "x_V4.png", "x_V6.png"]
    with pytest.raises(ConfigError, match="k=4"):
        plot_extreme_waveforms(windows, np.arange(6.0), list("abcdef"), k=4, out_dir=tmp_path, prefix="x")
    with pytest.raises(ConfigError, match="V7"):
        plot_extreme_waveforms(
            windows, np.arange(6.0), list("abcdef"), out_dir=tmp_path, prefix="x", leads=["V7"]
        )
    with pytest.raises(InputError, match="one entry per window"):
        plot_extreme_waveforms(windows, np.arange(5.0), list("abcdef"), out_dir=tmp_path, prefix="x")


def test_training_curves(tmp_path, captured):
    epochs = np.arange(1, 6)
    curves = pd.concat(
        [pd.DataFrame({"fold": f, "epoch": epochs, "train_loss": 1 / epochs, "val_loss": 1.2 / epochs,
                       "train_auc": 0.5 + 0.08 * epochs, "val_auc": 0.5 + 0.05 * epochs}) for f in range(3)]
    )  # fmt: skip
    out = plot_training_curves(curves, tmp_path / "curves.png")
    assert _is_png(out)
    axes = captured[0].axes
    assert len(axes) == 6  # AUC and loss rows x 3 folds
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), 0.5 + 0.08 * epochs)
    no_val = curves.assign(val_auc=np.nan, val_loss=np.nan)
    assert _is_png(plot_training_curves(no_val, tmp_path / "no_val.png"))
    with pytest.raises(InputError, match="epoch"):
        plot_training_curves(curves.drop(columns="epoch"), tmp_path / "bad.png")


def _predictions(n=80, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * (2 * y - 1))))
    rule = (rng.uniform(size=n) < 0.3 + 0.4 * y).astype(float)
    return pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "fold": np.arange(n) % 2, "y_true": y,
                         "score_model": p, "score_rule": rule})  # fmt: skip


def test_roc_and_reliability(tmp_path, captured):
    predictions = _predictions()
    out = plot_roc(predictions, ["score_model", "score_rule"], tmp_path / "roc.png")
    assert _is_png(out)
    labels = _legend_texts(captured[0])
    auc = auc_score(predictions["y_true"], predictions["score_model"])
    assert f"model (AUC {auc:.3f})" in labels and any(label.startswith("rule (AUC") for label in labels)
    # the drawn curves enclose exactly the AUC in the legend, ties (the 0/1 rule) included
    lines = {line.get_label().split(" (")[0]: line for line in captured[0].axes[0].lines}
    for name in ("model", "rule"):
        x, y = lines[name].get_xdata(), lines[name].get_ydata()
        area = float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))
        assert area == pytest.approx(auc_score(predictions["y_true"], predictions[f"score_{name}"]))
    assert _is_png(plot_reliability(predictions, "score_model", tmp_path / "rel.png"))
    with pytest.raises(InputError, match="probabilities"):
        plot_reliability(predictions.assign(score_model=predictions["score_model"] * 3), "score_model",
                         tmp_path / "bad.png")  # fmt: skip


# --- integrated gradients ---------------------------------------------------------------------
def test_torch_integrated_gradients_equals_the_analytic_linear_result():
    torch.manual_seed(0)
    w = torch.randn(12, 30)
    x = {"ecg": torch.randn(2, 12, 30)}
    x0 = {"ecg": 0.3 * torch.randn(2, 12, 30)}

    def forward(batch):
        return torch.sigmoid((batch["ecg"] * w).sum(dim=(1, 2)))

    attributions = integrated_gradients(forward, x, x0, n_steps=64, method="torch")["ecg"]
    # f = sigmoid(w.x): IG_i = (x - x0)_i w_i (f(x) - f(x0)) / (w.(x - x0)) exactly.
    dot = (w * (x["ecg"] - x0["ecg"])).sum(dim=(1, 2))
    expected = (x["ecg"] - x0["ecg"]) * w * ((forward(x) - forward(x0)) / dot)[:, None, None]
    torch.testing.assert_close(attributions, expected, atol=1e-5, rtol=1e-4)


def test_integrated_gradients_completeness_on_a_network():
    from cardiopredict.models import build_model

    torch.manual_seed(1)
    net = build_model("ecgnet", n_samples=32, channels=(4, 8), hidden_size=8).eval()
    x = {"ecg": torch.randn(2, 12, 32)}

    def forward(batch):
        return torch.sigmoid(net(batch))

    attributions = integrated_gradients(forward, x, n_steps=100, method="torch")["ecg"]
    with torch.no_grad():
        gap = forward(x) - forward({"ecg": torch.zeros_like(x["ecg"])})
    torch.testing.assert_close(attributions.sum(dim=(1, 2)), gap, atol=2e-3, rtol=0.02)


def test_torch_fallback_matches_captum():
    pytest.importorskip("captum")
    torch.manual_seed(2)
    w = torch.randn(12, 16)

    def forward(batch):
        return torch.tanh((batch["ecg"] * w).sum(dim=(1, 2)) / 4) ** 2

    x = {"ecg": torch.randn(3, 12, 16)}
    ours = integrated_gradients(forward, x, n_steps=40, method="torch")["ecg"]
    theirs = integrated_gradients(forward, x, n_steps=40, method="captum")["ecg"]
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def _model_dir(tmp_path, n_folds=2):
    from cardiopredict.models import build_model
    from cardiopredict.training.artifacts import save_fold_weights, write_model_json

    kwargs = {"input_key": "ecg", "n_samples": 32, "channels": [4, 8], "hidden_size": 8}
    directory = tmp_path / "model"
    folds = []
    for k in range(n_folds):
        torch.manual_seed(k)
        save_fold_weights(build_model("ecgnet", **kwargs), directory / f"fold{k}.safetensors")
        folds.append({"file": f"fold{k}.safetensors"})
    write_model_json(directory, {"model": "ecgnet", "model_kwargs": kwargs, "n_classes": 2, "folds": folds,
                                 "label": "response", "classes": [0, 1]})  # fmt: skip
    return directory


def test_plot_saliency_draws_attributed_mean_waveforms(tmp_path, captured):
    directory = _model_dir(tmp_path)
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 8)
    windows = (rng.normal(size=(16, 12, 32)) + y[:, None, None]).astype(np.float32)
    out = plot_saliency(directory, {"ecg": windows}, y, tmp_path / "saliency.png", method="torch")
    assert _is_png(out)
    figure = captured[0]
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles[0].startswith("ecg: response = 1\n(mean of 8") and titles[1].startswith("ecg: response = 0")
    # the drawn line of lead I, first column, is the responders' mean waveform
    segments = figure.axes[0].collections[0].get_segments()
    np.testing.assert_allclose([s[0, 1] for s in segments], windows[y == 1, 0, :-1].mean(axis=0), rtol=1e-5)
    with pytest.raises(InputError, match="class 1"):
        plot_saliency(directory, {"ecg": windows}, np.zeros(16, int), tmp_path / "x.png")
    with pytest.raises(InputError, match="lack"):
        plot_saliency(directory, {"pre": windows}, y, tmp_path / "x.png")
