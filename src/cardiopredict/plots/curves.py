"""Training curves per fold (paper Figs 7–11), ROC curves of models vs baselines, reliability diagram.

All functions draw from the run's own tables (``curves/<model>.csv``, ``predictions.csv``) and write
one PNG atomically, returning its path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cardiopredict.errors import InputError
from cardiopredict.evaluation.metrics import auc_score, brier_score, reliability_curve
from cardiopredict.plots.waveforms import new_figure, save_figure

__all__ = ["plot_reliability", "plot_roc", "plot_training_curves"]


def _require(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"{what} lacks column(s) {missing}; it has {list(table.columns)}.")


def plot_training_curves(curves: pd.DataFrame, out: str | Path, *, dpi: int = 100) -> Path:
    """Per fold, training vs validation AUC (top row) and loss (bottom row) against epoch.

    Parameters
    ----------
    curves : DataFrame
        ``fold``, ``epoch`` and any of ``train_auc``, ``val_auc``, ``train_loss``, ``val_loss``
        (as written by :func:`cardiopredict.training.crossval.run_cv`); missing or all-NaN series
        are not drawn (e.g. no validation curve when early stopping is off).
    out : path
        PNG to write.
    dpi : int
        Resolution.

    Returns
    -------
    Path
    """
    _require(curves, ("fold", "epoch"), "curves")
    folds = sorted(pd.unique(curves["fold"]).tolist())
    if not folds:
        raise InputError("curves is empty: no epoch was logged, so there is nothing to draw.")
    figure = new_figure(figsize=(2.6 * len(folds) + 0.8, 5.0))
    axes = figure.subplots(2, len(folds), squeeze=False, sharex="col")
    for column, fold in enumerate(folds):
        rows = curves[curves["fold"] == fold].sort_values("epoch")
        for row, metric in enumerate(("auc", "loss")):
            ax = axes[row, column]
            for split, colour in (("train", "tab:blue"), ("val", "tab:orange")):
                name = f"{split}_{metric}"
                if name in rows and rows[name].notna().any():
                    ax.plot(rows["epoch"], rows[name], color=colour, label=split, linewidth=1.2)
            if metric == "auc":
                ax.set_title(f"fold {fold}", fontsize=9)
                ax.set_ylim(0.0, 1.02)
                ax.axhline(0.5, color="0.7", linewidth=0.6, linestyle=":")
            else:
                ax.set_xlabel("epoch")
            if column == 0:
                ax.set_ylabel(metric.upper() if metric == "auc" else "loss")
            ax.grid(True, color="0.92")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="outside upper right", fontsize=8, ncols=2)
    return save_figure(figure, out, dpi=dpi)


def plot_roc(
    predictions: pd.DataFrame, score_columns: Sequence[str], out: str | Path, *, dpi: int = 100
) -> Path:
    """ROC curves of several score columns of the same patients, AUC in the legend.

    Parameters
    ----------
    predictions : DataFrame
        ``y_true`` (0/1) and the score columns (one row per patient, out-of-fold scores).
    score_columns : sequence of str
        E.g. ``["score_combined", "score_qrs150_lbbb"]``; the ``score_`` prefix is dropped in the legend.
    out : path
    dpi : int

    Returns
    -------
    Path
    """
    from sklearn.metrics import roc_curve

    _require(predictions, ("y_true", *score_columns), "predictions")
    y = predictions["y_true"].to_numpy()
    figure = new_figure(figsize=(5.2, 5.0))
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1.0, label="chance")
    for column in score_columns:
        score = predictions[column].to_numpy(dtype=float)
        auc = auc_score(y, score)
        if not np.isfinite(auc):
            continue  # one class only: no ROC curve exists
        fpr, tpr, _ = roc_curve(y, score)
        # straight segments between ROC points: tied scores give the diagonal the AUC counts as 1/2
        ax.plot(fpr, tpr, linewidth=1.4, label=f"{column.removeprefix('score_')} (AUC {auc:.3f})")
    ax.set_xlabel("1 − specificity (false-positive rate)")
    ax.set_ylabel("sensitivity (true-positive rate)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_title(f"Out-of-fold ROC (n = {len(y)}, {int(np.sum(y))} positive)", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, color="0.92")
    return save_figure(figure, out, dpi=dpi)


def plot_reliability(
    predictions: pd.DataFrame, column: str, out: str | Path, *, n_bins: int = 10, dpi: int = 100
) -> Path:
    """Reliability diagram (observed event rate vs mean predicted probability) with a histogram.

    Parameters
    ----------
    predictions : DataFrame
        ``y_true`` and the probability column.
    column : str
        E.g. ``"score_combined"`` (must hold probabilities in [0, 1]).
    out : path
    n_bins : int
        Equal-width bins of [0, 1].
    dpi : int

    Returns
    -------
    Path
    """
    _require(predictions, ("y_true", column), "predictions")
    y = predictions["y_true"].to_numpy()
    p = predictions[column].to_numpy(dtype=float)
    curve = reliability_curve(y, p, n_bins=n_bins)
    figure = new_figure(figsize=(5.0, 5.6))
    top, bottom = figure.subplots(2, 1, height_ratios=(3, 1), sharex=True)
    top.plot([0, 1], [0, 1], color="0.6", linestyle=":", label="perfect calibration")
    top.plot(curve["mean_predicted"], curve["fraction_positive"], marker="o", color="tab:blue",
             label=f"{column.removeprefix('score_')} (Brier {brier_score(y, p):.3f})")  # fmt: skip
    for _, row in curve.iterrows():
        top.annotate(str(int(row["n"])), (row["mean_predicted"], row["fraction_positive"]), fontsize=6,
                     textcoords="offset points", xytext=(3, -8))  # fmt: skip
    top.set_ylabel("observed fraction positive")
    top.set_ylim(-0.02, 1.02)
    top.legend(fontsize=7, loc="upper left")
    top.grid(True, color="0.92")
    top.set_title("Reliability (numbers: patients per bin)", fontsize=9)
    bottom.hist(p, bins=np.linspace(0, 1, n_bins + 1), color="tab:blue", alpha=0.6)
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("patients")
    bottom.set_xlim(0, 1)
    return save_figure(figure, out, dpi=dpi)
