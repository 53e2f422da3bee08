"""Figures of a run: ECG grids, top/bottom-scored waveforms, training curves, ROC, calibration, saliency.

Every function writes one PNG (or one per lead) atomically and returns the path(s); matplotlib and torch
are imported only when a figure is drawn.
"""

from cardiopredict.plots.cmr import plot_lge_panel, plot_oriented_montage
from cardiopredict.plots.curves import plot_reliability, plot_roc, plot_training_curves
from cardiopredict.plots.ecg_grid import plot_ecg_grid
from cardiopredict.plots.saliency import integrated_gradients, plot_saliency
from cardiopredict.plots.waveforms import plot_extreme_waveforms

__all__ = [
    "integrated_gradients",
    "plot_ecg_grid",
    "plot_extreme_waveforms",
    "plot_lge_panel",
    "plot_oriented_montage",
    "plot_reliability",
    "plot_roc",
    "plot_saliency",
    "plot_training_curves",
]
