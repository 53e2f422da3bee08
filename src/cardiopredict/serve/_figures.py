"""Figures of a prediction, drawn when first asked for, and the short-lived store that holds them.

A prediction's answer links its figures (``/api/v1/results/<id>/figures/<name>.png``); each is drawn on
its first request and then kept with the result. The store is bounded (oldest result dropped first,
and after ``ttl_s``), so a busy server's memory does not grow with the number of predictions.

Figures: ``ecg_<field>`` — the 12-lead grid with the QRS complexes the pipeline used
(:func:`cardiopredict.plots.plot_ecg_grid`); ``saliency`` — integrated gradients
(:func:`cardiopredict.plots.integrated_gradients`, baseline 0 mV) of the ensemble's probability over
this patient's QRS window(s). Scalar inputs (RR features) are held at their value, so only the ECG
windows are attributed.
"""

from __future__ import annotations

import io
import secrets
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict.serve._models import ServedModel
from cardiopredict.serve._scoring import Scored

_PYPLOT = threading.Lock()  # plot_ecg_grid draws with pyplot, whose global state is not thread-safe
_GRADIENTS = threading.Lock()  # one backward pass at a time bounds the server's peak memory


@dataclass
class _Entry:
    model: ServedModel
    scored: Scored
    created: float
    pngs: dict[str, bytes] = field(default_factory=dict)
    locks: dict[str, threading.Lock] = field(default_factory=dict)  # one per figure: drawn once


class ResultStore:
    """The last ``max_results`` predictions (at most ``ttl_s`` old), for drawing their figures."""

    def __init__(self, *, max_results: int, ttl_s: float = 900.0) -> None:
        self.max_results = int(max_results)
        self.ttl_s = float(ttl_s)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, model: ServedModel, scored: Scored) -> tuple[str, list[str]]:
        """Keep ``scored``; return its id (random, unguessable) and the names of its figures."""
        result_id = secrets.token_urlsafe(16)
        with self._lock:
            self._expire()
            names = figure_names(scored)
            locks = {name: threading.Lock() for name in names}
            self._entries[result_id] = _Entry(model, scored, time.monotonic(), locks=locks)
            while len(self._entries) > self.max_results:
                self._entries.popitem(last=False)
        return result_id, names

    def figure(self, result_id: str, name: str) -> bytes | None:
        """PNG bytes of figure ``name`` of a kept result, drawn now if needed; None when unknown."""
        with self._lock:
            self._expire()
            entry = self._entries.get(result_id)
        if entry is None or name not in entry.locks:
            return None
        with entry.locks[name]:
            if name not in entry.pngs:
                entry.pngs[name] = _draw(entry, name)
            return entry.pngs[name]

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.ttl_s
        while self._entries and next(iter(self._entries.values())).created < cutoff:
            self._entries.popitem(last=False)


def figure_names(scored: Scored) -> list[str]:
    """``ecg_<field>`` per uploaded ECG, then ``saliency``."""
    return [f"ecg_{name}" for name in scored.ecgs] + ["saliency"]


def _draw(entry: _Entry, name: str) -> bytes:
    if name == "saliency":
        return saliency_png(entry.model, entry.scored.inputs)
    upload = entry.scored.ecgs[name.removeprefix("ecg_")]
    return ecg_grid_png(upload.record, upload.delineation, title=f"{name.removeprefix('ecg_')} ECG")


def ecg_grid_png(record: Any, delineation: Any, *, title: str) -> bytes:
    """The 12-lead grid with QRS marks as PNG bytes; the title never carries a header identifier."""
    from cardiopredict.plots import plot_ecg_grid

    qrs = delineation.qrs_durations_ms[delineation.valid]
    median = f"QRS {np.median(qrs):.0f} ms" if len(qrs) else "no valid QRS"
    title = (
        f"{title} — {record.fs:g} Hz, {record.duration_s:.1f} s, {delineation.n_beats} beats "
        f"({int(delineation.valid.sum())} valid, shaded green), {median}"
    )
    with tempfile.TemporaryDirectory(prefix="cardiopredict-figure-") as folder, _PYPLOT:
        path = plot_ecg_grid(record, delineation, Path(folder) / "grid.png", title=title, dpi=80)
        return path.read_bytes()


def attributions_of(
    model: ServedModel, inputs: dict[str, np.ndarray], *, n_steps: int = 16
) -> dict[str, Any]:
    """Integrated gradients of the ensemble's probability for one patient, fold by fold.

    The ensemble's probability is the mean of the folds', and integrated gradients are linear in the
    explained function, so the mean of the folds' attributions is the ensemble's attribution; computing
    one fold at a time bounds the memory of the backward pass by one network. ECG windows are attributed
    against 0 mV; scalar inputs are held at their value (zero attribution). One computation at a time.

    Returns
    -------
    dict of str to ndarray
        Attribution per input element, same shapes as ``inputs``.
    """
    import torch

    from cardiopredict.plots import integrated_gradients
    from cardiopredict.training.artifacts import Ensemble

    ensemble = model.ensemble
    target = 1 if ensemble.n_classes == 2 else int(np.argmax(ensemble.predict(inputs)[0]))
    tensors = {key: torch.as_tensor(value) for key, value in inputs.items()}
    baselines = {key: torch.zeros_like(t) if t.dim() == 3 else t for key, t in tensors.items()}
    total = {key: np.zeros_like(value) for key, value in inputs.items()}
    with _GRADIENTS:
        for net in ensemble.models:
            fold = Ensemble([net], ensemble.config)

            def explained(batch: dict[str, Any], fold: Ensemble = fold) -> Any:
                proba = fold.probabilities(batch)
                return proba if fold.n_classes == 2 else proba[:, target]

            for key, value in integrated_gradients(explained, tensors, baselines, n_steps=n_steps).items():
                total[key] += value.numpy() / len(ensemble.models)
    return total


def saliency_png(model: ServedModel, inputs: dict[str, np.ndarray]) -> bytes:
    """This patient's QRS window(s), each lead coloured by its integrated-gradients attribution, as PNG.

    Parameters
    ----------
    model : ServedModel
    inputs : dict of str to ndarray
        The model input of one patient, each ``(1, ...)``; ECG windows ``(1, 12, T)`` mV.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import TwoSlopeNorm

    from cardiopredict.plots.waveforms import lead_names, new_figure

    attributions = attributions_of(model, inputs)
    keys = [key for key, value in inputs.items() if value.ndim == 3]
    magnitudes = np.concatenate([np.abs(attributions[key]).ravel() for key in keys])
    scale = float(np.quantile(magnitudes, 0.99)) or float(magnitudes.max()) or 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-scale, vmax=scale)
    n_leads = inputs[keys[0]].shape[1]
    figure = new_figure(figsize=(2.6 * len(keys) + 1.2, 0.55 * n_leads + 1.3), layout=None)
    figure.subplots_adjust(left=0.12, right=0.76, bottom=0.07, top=0.9, hspace=0.1)
    axes = figure.subplots(n_leads, len(keys), squeeze=False, sharex="col")
    for col, key in enumerate(keys):
        wave, attribution = inputs[key][0], attributions[key][0]
        samples = np.arange(wave.shape[-1])
        for lead, lead_name in enumerate(lead_names(n_leads)):
            ax = axes[lead, col]
            points = np.column_stack([samples, wave[lead]]).reshape(-1, 1, 2)
            lines = LineCollection(
                np.concatenate([points[:-1], points[1:]], axis=1), cmap="coolwarm", norm=norm
            )
            lines.set_array(0.5 * (attribution[lead][:-1] + attribution[lead][1:]))
            lines.set_linewidth(2.0)
            ax.add_collection(lines)
            ax.autoscale_view()
            ax.tick_params(labelsize=6, labelleft=False)
            if col == 0:
                ax.set_ylabel(lead_name, rotation=0, ha="right", va="center", fontsize=8)
        axes[0, col].set_title(f"{key} QRS window", fontsize=8)
        axes[-1, col].set_xlabel("sample", fontsize=7)
    bar = figure.colorbar(lines, cax=figure.add_axes((0.8, 0.3, 0.02, 0.4)), extend="both")
    bar.set_label("attribution (red: towards the outcome)", fontsize=7)
    bar.formatter.set_powerlimits((-2, 2))
    n_folds = len(model.ensemble.models)
    figure.suptitle(f"Integrated gradients, mean of {n_folds} fold models, baseline 0 mV", fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()
