"""Integrated-gradients saliency of a fold ensemble over the mean input of each class.

:func:`integrated_gradients` attributes a scalar model output to every input sample (Sundararajan,
Taly & Yan 2017): ``(x - x0) * ∫₀¹ ∂f(x0 + α (x - x0)) / ∂x dα``, the integral by Gauss–Legendre
quadrature. It uses captum's ``IntegratedGradients`` when captum is installed and otherwise a pure-torch
implementation of the same quadrature (captum's ``method="gausslegendre"``), so both give the same
numbers. Attributions sum to ``f(x) - f(x0)`` (completeness) up to the quadrature error.

:func:`plot_saliency` loads a trained model directory (:class:`cardiopredict.training.artifacts.Ensemble`),
averages the inputs of the patients of each class (e.g. CRT responders and non-responders), attributes the
ensemble's probability of the positive class to each sample of each lead, and draws the mean waveforms
coloured by their attribution. Baseline ``x0``: 0 mV (the isoelectric line) for ECG windows; the cohort
mean for scalar inputs (e.g. RR features), so a scalar's attribution measures its deviation from average.

:func:`window_saliency_png` draws one patient's windows coloured by given attributions straight onto a
Pillow raster (tens of milliseconds, for the scoring service); it computes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict.errors import ConfigError, InputError
from cardiopredict.plots.ecg_grid import INK, font, new_canvas, png_bytes
from cardiopredict.plots.waveforms import lead_names, new_figure, save_figure
from cardiopredict.training.artifacts import Ensemble

__all__ = ["integrated_gradients", "plot_saliency", "window_saliency_png"]


def _captum_available() -> bool:
    try:
        import captum.attr  # noqa: F401
    except ImportError:
        return False
    return True


def integrated_gradients(
    forward: Callable[[dict[str, Any]], Any],
    inputs: Mapping[str, Any],
    baselines: Mapping[str, Any] | None = None,
    *,
    n_steps: int = 50,
    method: str = "auto",
) -> dict[str, Any]:
    """Integrated gradients of a scalar-per-row output with respect to every input tensor.

    Parameters
    ----------
    forward : callable
        Maps a dict of tensors (first axis = rows) to a tensor of shape (rows,): the output to explain,
        e.g. the probability of the positive class.
    inputs : mapping of str to Tensor
        Points to explain, each ``(b, ...)`` float.
    baselines : mapping of str to Tensor, optional
        Reference points, same shapes as ``inputs``; default zeros.
    n_steps : int
        Gauss–Legendre nodes on the straight path from baseline to input.
    method : {"auto", "captum", "torch"}
        ``"auto"``: captum when importable, else the pure-torch quadrature.

    Returns
    -------
    dict of str to Tensor
        Attribution per input element, same shapes as ``inputs`` (detached).
    """
    import torch

    if n_steps < 1:
        raise ConfigError(f"n_steps={n_steps}: use at least one integration step (50 is the default).")
    if method not in ("auto", "captum", "torch"):
        raise ConfigError(f"method={method!r}: choose 'auto', 'captum' or 'torch'.")
    keys = list(inputs)
    x = {key: torch.as_tensor(inputs[key], dtype=torch.float32).detach() for key in keys}
    x0 = {
        key: (
            torch.zeros_like(x[key])
            if baselines is None
            else torch.as_tensor(baselines[key], dtype=torch.float32).detach().expand_as(x[key])
        )
        for key in keys
    }
    use_captum = method == "captum" or (method == "auto" and _captum_available())
    with torch.enable_grad():
        if use_captum:
            from captum.attr import IntegratedGradients

            explainer = IntegratedGradients(lambda *tensors: forward(dict(zip(keys, tensors, strict=True))))
            attributions = explainer.attribute(
                tuple(x[key] for key in keys),
                baselines=tuple(x0[key] for key in keys),
                n_steps=n_steps,
                method="gausslegendre",
            )
            return {key: a.detach() for key, a in zip(keys, attributions, strict=True)}
        return _torch_integrated_gradients(forward, x, x0, n_steps=n_steps)


def _torch_integrated_gradients(
    forward: Callable[[dict[str, Any]], Any], x: dict[str, Any], x0: dict[str, Any], *, n_steps: int
) -> dict[str, Any]:
    import torch

    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    alphas = torch.as_tensor(0.5 * (nodes + 1.0), dtype=torch.float32)
    weights = torch.as_tensor(0.5 * weights, dtype=torch.float32)
    rows = next(iter(x.values())).shape[0]
    path = {}
    for key in x:
        shape = (n_steps,) + (1,) * x[key].dim()
        points = x0[key].unsqueeze(0) + alphas.reshape(shape) * (x[key] - x0[key]).unsqueeze(0)
        path[key] = points.reshape(n_steps * rows, *x[key].shape[1:]).requires_grad_(True)
    output = forward(path)
    if output.shape != (n_steps * rows,):
        raise InputError(
            f"forward returned shape {tuple(output.shape)}; it must return one scalar per row "
            f"({n_steps * rows},). Select the output to explain (e.g. one class's probability)."
        )
    weighted = (output.reshape(n_steps, rows) * weights[:, None]).sum()
    gradients = torch.autograd.grad(weighted, [path[key] for key in x])
    result = {}
    for key, gradient in zip(x, gradients, strict=True):
        integral = gradient.reshape(n_steps, *x[key].shape).sum(dim=0)
        result[key] = ((x[key] - x0[key]) * integral).detach()
    return result


def _group_names(config: Mapping[str, Any], positive: int) -> tuple[str, str]:
    classes = [str(c) for c in config.get("classes") or []]
    label = str(config.get("label") or "y")
    if config.get("positive_class") is not None and len(classes) == 2:
        first = str(config["positive_class"])
        return first, next(c for c in classes if c != first)
    if len(classes) > 2:
        return classes[positive], f"not {classes[positive]}"
    return f"{label} = 1", f"{label} = 0"


def plot_saliency(
    model_dir: str | Path,
    inputs: Mapping[str, Any],
    y: Any,
    out: str | Path,
    *,
    positive: int = 1,
    n_steps: int = 32,
    method: str = "auto",
    dpi: int = 100,
) -> Path:
    """Mean waveforms of each class, coloured by integrated-gradients attribution, one panel per lead.

    Parameters
    ----------
    model_dir : path
        A trained model directory (``model.json`` + ``fold<k>.safetensors``).
    inputs : mapping of str to ndarray
        The arrays the model reads, first axis = patients: ECG windows ``(n, 12, T)`` mV, scalars
        ``(n, n_scalars)``.
    y : array-like of shape (n,), int
        Labels as used in training (binary: 1 = positive class, e.g. CRT responder).
    out : path
        PNG to write.
    positive : int
        Label of the group explained as "positive": its mean input is compared with that of every
        other patient. For a multiclass model the explained output is P(class ``positive``); for a
        binary model it is P(class 1).
    n_steps, method
        See :func:`integrated_gradients`.
    dpi : int

    Returns
    -------
    Path
        ``out``. Red samples push the ensemble towards the positive class, blue away from it; the colour
        scale saturates at the 99th percentile of |attribution| over all panels.
    """
    import torch

    ensemble = Ensemble.load(model_dir)
    keys = list(ensemble.input_keys or inputs)
    arrays, in_group = _checked_inputs(ensemble, keys, inputs, y, positive=positive, model_dir=model_dir)
    means = {
        key: np.stack([a[in_group].mean(axis=0), a[~in_group].mean(axis=0)]) for key, a in arrays.items()
    }
    baselines = {
        key: np.zeros_like(m) if m.ndim == 3 else np.broadcast_to(arrays[key].mean(axis=0), m.shape).copy()
        for key, m in means.items()
    }

    def explained(batch: dict[str, Any]) -> Any:
        proba = ensemble.probabilities(batch)
        return proba if ensemble.n_classes == 2 else proba[:, positive]

    attributions = integrated_gradients(explained, means, baselines, n_steps=n_steps, method=method)
    with torch.no_grad():
        at_means = explained({k: torch.as_tensor(v) for k, v in means.items()}).numpy()
    ecg_keys = [key for key in keys if means[key].ndim == 3]
    if not ecg_keys:
        raise InputError(f"the model reads no ECG window (inputs {keys}); nothing to draw.")
    names = _group_names(ensemble.config, positive)
    counts = (int(in_group.sum()), int((~in_group).sum()))
    panels = {key: (means[key], attributions[key].numpy()) for key in ecg_keys}
    titles = {
        (key, group): f"{key}: {names[group]}\n(mean of {counts[group]}; P = {at_means[group]:.2f})"
        for key in ecg_keys
        for group in (0, 1)
    }
    suptitle = (
        f"Integrated gradients ({ensemble.config.get('model', 'model')}, {len(ensemble.models)} folds); "
        "baseline 0 mV"
    )
    figure = _class_mean_figure(panels, titles, colour_label=f"attribution to P({names[0]})", title=suptitle)
    return save_figure(figure, out, dpi=dpi)


def _checked_inputs(
    ensemble: Ensemble, keys: list[str], inputs: Mapping[str, Any], y: Any, *, positive: int, model_dir: Any
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The model's input arrays (float32) and the mask of the ``positive`` group, or a named error."""
    missing = [key for key in keys if key not in inputs]
    if missing:
        raise InputError(f"inputs lack {missing}; the model in {model_dir} reads {keys}.")
    y = np.asarray(y)
    arrays = {key: np.asarray(inputs[key], dtype=np.float32) for key in keys}
    if any(len(a) != len(y) for a in arrays.values()):
        raise InputError(
            f"every input needs one row per label ({len(y)}); got { {k: len(a) for k, a in arrays.items()} }."
        )
    in_group = y == positive
    if in_group.all() or not in_group.any():
        raise InputError(f"y must contain class {positive} and at least one other class to compare means.")
    if ensemble.n_classes > 2 and not 0 <= positive < ensemble.n_classes:
        raise ConfigError(f"positive={positive}: the model has classes 0..{ensemble.n_classes - 1}.")
    return arrays, in_group


def _class_mean_figure(
    panels: Mapping[str, tuple[np.ndarray, np.ndarray]],
    titles: Mapping[tuple[str, int], str],
    *,
    colour_label: str,
    title: str,
) -> Any:
    """One column per (window, group) of mean waveforms ``(2, n_leads, T)`` coloured by attribution."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import TwoSlopeNorm

    # Colour saturates at the 99th percentile of |attribution| so a few spikes do not wash out the rest.
    magnitudes = np.concatenate([np.abs(attribution).ravel() for _, attribution in panels.values()])
    scale = float(np.quantile(magnitudes, 0.99)) or float(magnitudes.max()) or 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-scale, vmax=scale)
    columns = [(key, group) for key in panels for group in (0, 1)]
    n_leads = next(iter(panels.values()))[0].shape[1]
    height = 0.75 * n_leads + 1.2
    figure = new_figure(figsize=(2.4 * len(columns) + 1.0, height), layout=None)
    figure.subplots_adjust(left=0.1, right=0.86, bottom=0.5 / height, top=1 - 0.9 / height, hspace=0.15)
    axes = figure.subplots(n_leads, len(columns), squeeze=False, sharex="col", sharey="row")
    for col, (key, group) in enumerate(columns):
        wave, attribution = panels[key][0][group], panels[key][1][group]
        samples = np.arange(wave.shape[-1])
        for lead, lead_name in enumerate(lead_names(n_leads)):
            ax = axes[lead, col]
            points = np.column_stack([samples, wave[lead]]).reshape(-1, 1, 2)
            segments = np.concatenate([points[:-1], points[1:]], axis=1)
            ax.plot(samples, wave[lead], color="black", linewidth=0.5, alpha=0.6)
            lines = LineCollection(segments, cmap="coolwarm", norm=norm, linewidth=2.2)
            lines.set_array(0.5 * (attribution[lead][:-1] + attribution[lead][1:]))
            ax.add_collection(lines)
            ax.tick_params(labelsize=6)
            if col == 0:
                ax.set_ylabel(lead_name, rotation=0, ha="right", va="center", fontsize=8)
        axes[0, col].set_title(titles[key, group], fontsize=7)
        axes[-1, col].set_xlabel("sample", fontsize=7)
    colourbar = figure.colorbar(lines, cax=figure.add_axes((0.89, 0.3, 0.015, 0.4)), extend="both")
    colourbar.set_label(colour_label, fontsize=8)
    figure.suptitle(title, fontsize=9)
    return figure


_N_SHADES = 200  # colour steps of the diverging scale (palette entries after the fixed ones)


@lru_cache(maxsize=1)
def _coolwarm() -> list[tuple[int, int, int]]:
    from matplotlib import colormaps

    rgba = colormaps["coolwarm"](np.linspace(0.0, 1.0, _N_SHADES))
    return [tuple(round(255 * float(c)) for c in colour[:3]) for colour in rgba]


def window_saliency_png(
    windows: Mapping[str, Any], attributions: Mapping[str, Any], *, title: str, dpi: int = 80
) -> bytes:
    """One patient's ECG windows, each lead coloured by its attribution (red: towards the outcome), as PNG.

    Parameters
    ----------
    windows : mapping of str to ndarray of shape (n_leads, n_samples), mV
        The windows the model read (e.g. ``{"pre": qrs, "post": qrs}``), one column of panels each.
    attributions : mapping of str to ndarray
        Same keys and shapes: the attribution of every sample (e.g. integrated gradients).
    title : str
        Figure title (say what was attributed, and against which baseline).
    dpi : int
        Pixels per inch; a column is 2.6 in wide, a lead 0.5 in tall.

    Returns
    -------
    bytes
        PNG. The colour scale is symmetric and saturates at the 99th percentile of |attribution| over
        all panels, so a few spikes do not wash out the rest.
    """
    keys = list(windows)
    waves = {key: np.asarray(windows[key], dtype=float) for key in keys}
    scores = {key: np.asarray(attributions[key], dtype=float) for key in keys}
    if not keys or any(w.ndim != 2 or w.shape != scores[k].shape for k, w in waves.items()):
        raise InputError("give one (n_leads, n_samples) window and attribution array of that shape per key.")
    magnitudes = np.abs(np.concatenate([scores[key].ravel() for key in keys]))
    scale = float(np.quantile(magnitudes, 0.99)) or float(magnitudes.max()) or 1.0
    n_leads = waves[keys[0]].shape[0]
    cell_w, cell_h, left, top = 2.6 * dpi, 0.5 * dpi, 0.6 * dpi, 0.75 * dpi
    width, height = round(left + cell_w * len(keys) + 1.5 * dpi), round(top + cell_h * n_leads + 0.3 * dpi)
    image, draw = new_canvas(width, height, _coolwarm())
    traces = []
    for col, key in enumerate(keys):
        x0 = left + col * cell_w
        label = f"{key} window"
        draw.text(
            (x0 + cell_w / 2, top - 0.12 * dpi), label, fill=INK["text"], anchor="md", font=font(8, dpi)
        )
        for lead, name in enumerate(lead_names(n_leads)):
            box = (x0 + 4, top + lead * cell_h + 3, x0 + cell_w - 4, top + (lead + 1) * cell_h - 3)
            draw.rectangle(box, outline=INK["grid"])
            traces.append((box, waves[key][lead], scores[key][lead]))
            if col == 0:
                y = (box[1] + box[3]) / 2
                draw.text((left - 0.1 * dpi, y), name, fill=INK["text"], anchor="rm", font=font(8, dpi))
    _colour_bar(draw, (left + cell_w * len(keys) + 0.3 * dpi, top, 0.15 * dpi, cell_h * n_leads), scale, dpi)
    draw.text((width / 2, 0.25 * dpi), title, fill=INK["text"], anchor="mm", font=font(9, dpi))
    pixels = np.array(image)
    for box, wave, score in traces:
        _paint_trace(pixels, box, wave, score, scale)
    return png_bytes(_with_pixels(image, pixels))


def _paint_trace(
    pixels: np.ndarray, box: tuple[float, ...], wave: np.ndarray, score: np.ndarray, scale: float
) -> None:
    """The wave inside ``box``, 2 px wide, each segment in the shade of its mean attribution.

    Painted into the palette-index array directly (one vertical run of pixels per segment): thousands
    of short coloured segments would cost one Pillow call each.
    """
    finite = np.isfinite(wave)
    if finite.sum() < 2:
        return
    low, high = float(wave[finite].min()), float(wave[finite].max())
    pad = 0.08 * (high - low) or 0.1
    x = np.linspace(box[0] + 2, box[2] - 3, len(wave))
    y = box[3] - 2 - (wave - low + pad) / (high - low + 2 * pad) * (box[3] - box[1] - 4)
    middle = 0.5 * (score[:-1] + score[1:])
    shade = np.clip(np.round((middle / scale + 1.0) / 2.0 * (_N_SHADES - 1)), 0, _N_SHADES - 1)
    keep = finite[:-1] & finite[1:] & np.isfinite(shade)
    y0 = np.floor(np.minimum(y[:-1], y[1:])[keep]).astype(int)
    lengths = np.floor(np.maximum(y[:-1], y[1:])[keep]).astype(int) - y0 + 1
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows = np.repeat(y0, lengths) + within
    cols = np.repeat(np.round(x[:-1][keep]).astype(int), lengths)
    ink = np.repeat(len(INK) + shade[keep].astype(np.uint8), lengths)
    for offset in (0, 1):
        pixels[rows, cols + offset] = ink


def _with_pixels(image: Any, pixels: np.ndarray) -> Any:
    from PIL import Image

    painted = Image.fromarray(pixels, mode="P")
    painted.putpalette(image.getpalette())
    return painted


def _colour_bar(draw: Any, rect: tuple[float, float, float, float], scale: float, dpi: int) -> None:
    x, y, w, h = rect
    for k in range(_N_SHADES):
        top = y + h * (1 - (k + 1) / _N_SHADES)
        draw.rectangle((x, top, x + w, top + h / _N_SHADES + 1), fill=len(INK) + k)
    small = font(7, dpi)
    for value, at in ((scale, y), (0.0, y + h / 2), (-scale, y + h)):
        draw.text((x + w + 4, at), f"{value:+.2g}", fill=INK["text"], anchor="lm", font=small)
    draw.text((x + w / 2, y + h + 0.12 * dpi), "attribution", fill=INK["text"], anchor="mt", font=small)
