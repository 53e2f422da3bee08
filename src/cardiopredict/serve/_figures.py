"""Figures of a prediction, drawn when first asked for, and the short-lived store that holds them.

A prediction's answer links its figures (``/api/v1/results/<id>/figures/<name>.png``); each is drawn on
its first request (concurrent requests for one figure share one drawing) and then kept with the
result. An API client that only reads the JSON never pays for them. The store is bounded (oldest result
dropped first, and after ``ttl_s``), so a busy server's memory does not grow with the number of
predictions. The store lives in the event loop; the drawing runs where the scoring runs (a worker
thread or process, :mod:`cardiopredict.serve._compute`), from the arrays the scoring returned.

Figures: ``ecg_<field>`` — the 12-lead grid with the QRS complexes the pipeline used
(:func:`cardiopredict.plots.ecg_grid.ecg_grid_png`); ``saliency`` — integrated gradients
(:func:`cardiopredict.plots.integrated_gradients`, baseline 0 mV) of the ensemble's probability over this
patient's QRS window(s), all fold models and quadrature nodes in one forward and one backward pass;
scalar inputs (RR features) are held at their value, so only the ECG windows are attributed. An LGE
model's ``slices``: the selected slices base → apex, rows LGE, myocardium, scar and the integrated
gradients of P(event) (baseline: no myocardium, no scar).
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict.serve._answer import Scored
from cardiopredict.serve._models import ServedModel

FIGURE_DPI = 80
IG_STEPS = 8
"""Gauss–Legendre nodes of the integrated gradients. Half the cost of 16; against 64 nodes the
attributions correlate >= 0.99 (``benchmarks/serve_load.py``, ``ig_nodes_check``), plenty for a
colour scale that saturates at the 99th percentile."""
_GRADIENTS = threading.Lock()  # one backward pass at a time (per process) bounds the peak memory
_MATPLOTLIB = threading.Lock()  # the slice montage is drawn with matplotlib, not thread-safe

Draw = Callable[[str, tuple[str, tuple]], Awaitable[bytes]]
"""``draw(model_name, (kind, payload))``: the PNG of one figure job, computed off the event loop."""


@dataclass
class _Entry:
    model_name: str
    scored: Scored
    created: float
    names: list[str]
    pngs: dict[str, bytes] = field(default_factory=dict)
    pending: dict[str, asyncio.Future] = field(default_factory=dict)


class ResultStore:
    """The last ``max_results`` predictions (at most ``ttl_s`` old), for drawing their figures.

    Used from the event loop only (no locks): the drawing itself is handed to ``draw``.
    """

    def __init__(self, *, max_results: int, ttl_s: float = 900.0) -> None:
        self.max_results = int(max_results)
        self.ttl_s = float(ttl_s)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def add(self, model_name: str, scored: Scored) -> tuple[str, list[str]]:
        """Keep ``scored``; return its id (random, unguessable) and the names of its figures."""
        self._expire()
        result_id = secrets.token_urlsafe(16)
        names = figure_names(scored)
        self._entries[result_id] = _Entry(model_name, scored, time.monotonic(), names)
        while len(self._entries) > self.max_results:
            self._entries.popitem(last=False)
        return result_id, names

    async def png(self, result_id: str, name: str, draw: Draw) -> bytes | None:
        """PNG bytes of figure ``name`` of a kept result, drawn now if needed; None when unknown."""
        self._expire()
        entry = self._entries.get(result_id)
        if entry is None or name not in entry.names:
            return None
        if name in entry.pngs:
            return entry.pngs[name]
        task = entry.pending.get(name)
        if task is None:
            task = asyncio.ensure_future(draw(entry.model_name, figure_job(entry.scored, name)))
            entry.pending[name] = task
        try:
            png = await asyncio.shield(task)  # a client that leaves does not cancel the others' drawing
        except BaseException:
            if task.done():
                entry.pending.pop(name, None)  # a failed drawing is tried again on the next request
            raise
        entry.pngs[name] = png
        entry.pending.pop(name, None)
        return png

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.ttl_s
        while self._entries and next(iter(self._entries.values())).created < cutoff:
            self._entries.popitem(last=False)


def figure_names(scored: Scored) -> list[str]:
    """``ecg_<field>`` per uploaded ECG, then ``saliency``; ``slices`` for an LGE model."""
    if scored.lge is not None:
        return ["slices"]
    return [f"ecg_{name}" for name in scored.ecgs] + ["saliency"]


def figure_job(scored: Scored, name: str) -> tuple[str, tuple]:
    """What :func:`draw_figure` needs for figure ``name``: its kind and only the arrays it draws."""
    if name == "slices":
        return "lge_slices", (scored.lge, scored.inputs)
    if name == "saliency":
        return "ecg_saliency", (scored.inputs,)
    field_name = name.removeprefix("ecg_")
    upload = scored.ecgs[field_name]
    return "ecg_grid", (upload.record, upload.delineation, f"{field_name} ECG")


def draw_figure(model: ServedModel, kind: str, payload: tuple) -> bytes:
    """The PNG of one figure job (runs in a worker thread or process)."""
    if kind == "ecg_grid":
        return ecg_grid_png(*payload)
    if kind == "ecg_saliency":
        return saliency_png(model, *payload)
    return lge_slices_png(model, *payload)


def ecg_grid_png(record: Any, delineation: Any, title: str) -> bytes:
    """The 12-lead grid with QRS marks as PNG bytes; the title never carries a header identifier."""
    from cardiopredict.plots.ecg_grid import ecg_grid_png as grid

    qrs = delineation.qrs_durations_ms[delineation.valid]
    median = f"QRS {np.median(qrs):.0f} ms" if len(qrs) else "no valid QRS"
    title = (
        f"{title} — {record.fs:g} Hz, {record.duration_s:.1f} s, {delineation.n_beats} beats "
        f"({int(delineation.valid.sum())} valid, shaded green), {median}"
    )
    return grid(record, delineation, title=title, dpi=FIGURE_DPI)


def attributions_of(
    model: ServedModel, inputs: dict[str, np.ndarray], *, n_steps: int = IG_STEPS
) -> dict[str, np.ndarray]:
    """Integrated gradients of the ensemble's probability for one patient.

    The nodes of the quadrature go through the ensemble as one batch: one forward and one backward
    pass over every fold model. ECG windows are attributed against 0 mV; scalar inputs are held at
    their value (zero attribution).

    Returns
    -------
    dict of str to ndarray
        Attribution per input element, same shapes as ``inputs``.
    """
    import torch

    from cardiopredict.plots import integrated_gradients

    n_classes = model.ensemble.n_classes
    target = 1 if n_classes == 2 else int(np.argmax(model.ensemble.predict(inputs)[0]))
    tensors = {key: torch.as_tensor(value) for key, value in inputs.items()}
    baselines = {key: torch.zeros_like(t) if t.dim() == 3 else t for key, t in tensors.items()}

    with _GRADIENTS:
        ensemble = gradient_ensemble(model)

        def explained(batch: dict[str, Any]) -> Any:
            proba = ensemble.probabilities(batch)
            return proba if n_classes == 2 else proba[:, target]

        result = integrated_gradients(explained, tensors, baselines, n_steps=n_steps)
    return {key: value.numpy() for key, value in result.items()}


def gradient_ensemble(model: ServedModel) -> Any:
    """The copy of ``model.ensemble`` that integrated gradients run through, made once per process.

    The same function computed faster for input gradients (the forward and backward passes of a
    saliency take about half the time; docs/SERVE.md, Capacity): every eval-mode batch norm that
    follows a convolution is folded into it (an affine map, so the network's output is unchanged up to
    float rounding, ~1e-7), the weights need no gradient (only the input's is wanted), and 4-d tensors
    are channels-last, where torch's CPU convolution and max-pooling run faster. Probabilities shown
    as the prediction never come from it: they come from ``model.ensemble``, untouched.
    """
    if model.gradient_ensemble is None:
        model.gradient_ensemble = _for_input_gradients(model.ensemble)
    return model.gradient_ensemble


def _for_input_gradients(ensemble: Any) -> Any:
    import copy

    import torch
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fast = copy.deepcopy(ensemble)
    for net in fast.models:
        net.eval()
        for block in [module for module in net.modules() if isinstance(module, nn.Sequential)]:
            for i in range(len(block) - 1):
                if type(block[i]) is nn.Conv2d and type(block[i + 1]) is nn.BatchNorm2d:
                    block[i] = fuse_conv_bn_eval(block[i], block[i + 1])
                    block[i + 1] = nn.Identity()
        net.requires_grad_(False)
        net.to(memory_format=torch.channels_last)
    return fast


def saliency_png(model: ServedModel, inputs: dict[str, np.ndarray]) -> bytes:
    """This patient's QRS window(s), each lead coloured by its integrated-gradients attribution, as PNG.

    Parameters
    ----------
    model : ServedModel
    inputs : dict of str to ndarray
        The model input of one patient, each ``(1, ...)``; ECG windows ``(1, 12, T)`` mV.
    """
    from cardiopredict.plots.saliency import window_saliency_png

    attributions = attributions_of(model, inputs)
    keys = [key for key, value in inputs.items() if value.ndim == 3]
    n_folds = len(model.ensemble.models)
    title = (
        f"Integrated gradients ({IG_STEPS} nodes), mean of {n_folds} fold models, baseline 0 mV; "
        "red: towards the outcome"
    )
    return window_saliency_png(
        {key: inputs[key][0] for key in keys},
        {key: attributions[key][0] for key in keys},
        title=title,
        dpi=FIGURE_DPI,
    )


def lge_slices_png(model: ServedModel, upload: Any, inputs: dict[str, np.ndarray]) -> bytes:
    """The slices used (LGE, myocardium, scar) with the integrated gradients of P(event), as PNG."""
    from cardiopredict.plots import integrated_gradients
    from cardiopredict.plots.va import plot_va_patient

    slices_key, mask_key = model.ensemble.input_keys
    baselines = {slices_key: np.zeros_like(inputs[slices_key]), mask_key: inputs[mask_key]}
    with _GRADIENTS:
        result = integrated_gradients(model.ensemble.probabilities, inputs, baselines, n_steps=IG_STEPS)
    n = len(upload.image)
    saliency = result[slices_key][0, :n].numpy()
    orientation = "RV insertion point at 6 o'clock" if upload.oriented else "acquired orientation"
    title = f"Slices used, base → apex ({orientation}); IG of P(event), baseline: no myocardium, no scar"
    with tempfile.TemporaryDirectory(prefix="cardiopredict-figure-") as folder, _MATPLOTLIB:
        path = plot_va_patient(
            upload.image, upload.slices, Path(folder) / "slices.png", saliency=saliency, title=title
        )
        return path.read_bytes()
