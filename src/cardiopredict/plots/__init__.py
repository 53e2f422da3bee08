"""Figures of a run: ECG grids, top/bottom-scored waveforms, training curves, ROC, calibration, saliency,
LGE panels.

Every function writes one PNG (or one per lead) atomically and returns the path(s). Names are imported
lazily, so importing one kind of figure does not pull in the signal-processing and imaging stacks of the
others.
"""

from __future__ import annotations

from cardiopredict._lazy import lazy_exports

_LAZY = {
    "integrated_gradients": "cardiopredict.plots.saliency",
    "plot_saliency": "cardiopredict.plots.saliency",
    "plot_ecg_grid": "cardiopredict.plots.ecg_grid",
    "plot_extreme_waveforms": "cardiopredict.plots.waveforms",
    "plot_lge_panel": "cardiopredict.plots.cmr",
    "plot_oriented_montage": "cardiopredict.plots.cmr",
    "plot_reliability": "cardiopredict.plots.curves",
    "plot_roc": "cardiopredict.plots.curves",
    "plot_training_curves": "cardiopredict.plots.curves",
    "extreme_rows": "cardiopredict.plots.va",
    "plot_va_extremes": "cardiopredict.plots.va",
    "scar_saliency": "cardiopredict.plots.va",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
