"""The scar network's fit loop: MONAI augmentation, Dice + BCE, AdamW, model selection on validation cases."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from cardiopredict.cmr.learned import (
    MIN_COMPONENT_GRID_MM2,
    MIN_SCAR_PERCENT_GRID,
    LearnedScar,
    ScarEnsemble,
    build_scar_network,
    postprocess_scar,
    predict_probabilities,
    remove_small_components,
    remove_trace_scar,
)
from cardiopredict.cmr.preprocess import pipeline_preprocessing
from cardiopredict.cmr.scar import SCAR_LABELS, scar_dice
from cardiopredict.errors import ConfigError, InputError
from cardiopredict.training._scar_cases import LabelledCase
from cardiopredict.training.crossval import resolve_device

SELECTIONS = ("val_dice", "val_loss", "last")
LR_SCHEDULES = ("constant", "cosine")
LOSSES = ("dice_ce", "tversky_ce")
THRESHOLD_GRID = tuple(round(t, 2) for t in np.arange(0.20, 0.801, 0.05))
"""Thresholds ``tune_threshold`` chooses from."""


@dataclass(frozen=True)
class ScarTrainingConfig:
    """Options of the scar network's training (defaults sized for a shared CPU).

    Parameters
    ----------
    arch : {"unet", "swinunetr"}
    channels : tuple of int
        U-Net channels per level.
    num_res_units : int
        Residual units per U-Net block (2, chosen on the odd MyoPS cases, issue 14).
    max_epochs, patience : int
        Epoch budget, and the early-stopping patience (``selection`` ``"val_dice"`` or ``"val_loss"``).
    selection : {"val_dice", "val_loss", "last"}
        Which epoch's weights are kept: the best mean per-case Dice of the inner validation cases, their
        lowest loss (smoother), or the last of ``max_epochs`` epochs (no early stopping; the final model
        then also trains ``max_epochs`` epochs instead of the folds' median best epoch).
    lr_schedule : {"constant", "cosine"}
        Learning rate per epoch: constant, or cosine annealing from ``learning_rate`` to 0 over the
        epoch budget.
    loss : {"dice_ce", "tversky_ce"}
        Dice + BCE, or Tversky (false positives weighted ``tversky_alpha``, false negatives
        1 - ``tversky_alpha``) + BCE.
    tversky_alpha : float
    batch_size : int
    learning_rate, weight_decay : float
        AdamW.
    validation_fraction : float
        Share of a fold's training patients kept aside for model selection and the threshold.
    augment : bool
        MONAI dictionary augmentation (flips, rotation +-15 deg, scale +-10 %, intensity scale/shift,
        bias field, Gaussian noise), drawn from ``seed``.
    seed : int
    device : str
        ``"cpu"``, ``"cuda"`` or ``"auto"``.
    threads : int, optional
        ``torch.set_num_threads`` for CPU training.
    threshold : float
        Probability above which a pixel is scar (unless ``tune_threshold``).
    tune_threshold : bool
        Choose the threshold (0.20 to 0.80, step 0.05) that maximises the inner validation cases' mean
        Dice after training; the final model uses the folds' median.
    tune_min_component : bool
        Post-processing fitted on the inner validation cases: after thresholding, scar components
        (2-D, per slice) smaller than an area chosen from
        :data:`~cardiopredict.cmr.learned.MIN_COMPONENT_GRID_MM2` (mm² at the acquired resolution) are
        removed, the area being the one that maximises those cases' mean Dice (ties: the smaller); the
        final model uses the folds' median. Off: every component is kept. On by default (chosen on the
        odd MyoPS cases, issue 14: +0.001 mean Dice there, +0.002 on the even ones).
    tune_min_scar_percent : bool
        Then (after the area, on the same cases) the case-level step: a case whose scar covers less than
        a burden chosen from :data:`~cardiopredict.cmr.learned.MIN_SCAR_PERCENT_GRID` (% of its
        myocardium) is called scar-free (:func:`~cardiopredict.cmr.learned.remove_trace_scar`), the
        burden being the one that maximises those cases' mean Dice (ties: the smaller); the final model
        uses the folds' median. For cohorts with scar-free patients (EMIDEC's normal cases); where every
        case has scar the fit keeps 0 or a small value. On by default (2026-12-03, issue 14: every MyoPS
        fold fitted 0, no change there; EMIDEC's 100 cases 0.655 -> 0.704 mean Dice).
    test_time_flips : bool
        Average the probabilities over the four flips of each crop (validation and every later use of the
        saved model; inference costs 4x).
    ensemble : int
        Networks per model, trained alike with seeds ``seed``, ``seed + 1``, ...; their probabilities
        are averaged (:class:`~cardiopredict.cmr.learned.ScarEnsemble`; training and inference cost
        ``ensemble`` x).
    scar_labels : tuple of int
    init_from : str, optional
        Folder of a saved scar model (``scar_model.json`` + safetensors) of the same architecture and
        preprocessing whose weights every network starts from instead of a random initialisation (a model
        trained on another labelled set, e.g. ``cmr train-scar`` on a public one: its ``final``); then
        trained on this run's cases as usual. Off (``None``): random initialisation.
    """

    arch: str = "unet"
    channels: tuple[int, ...] = (16, 32, 64, 128)
    num_res_units: int = 2
    max_epochs: int = 40
    patience: int = 12
    selection: str = "last"
    lr_schedule: str = "cosine"
    loss: str = "dice_ce"
    tversky_alpha: float = 0.7
    batch_size: int = 16
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    validation_fraction: float = 0.2
    augment: bool = True
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    threshold: float = 0.5
    tune_threshold: bool = False
    tune_min_component: bool = True
    tune_min_scar_percent: bool = True
    test_time_flips: bool = False
    ensemble: int = 1
    scar_labels: tuple[int, ...] = field(default=SCAR_LABELS)
    init_from: str | None = None

    def __post_init__(self) -> None:
        if self.arch not in ("unet", "swinunetr"):
            raise ConfigError(f"arch={self.arch!r}; choose 'unet' or 'swinunetr'.")
        if min(self.max_epochs, self.patience, self.batch_size, self.ensemble) < 1:
            raise ConfigError("max_epochs, patience, batch_size and ensemble must be >= 1.")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ConfigError(f"validation_fraction={self.validation_fraction}; give a value in (0, 0.5).")
        for name, value, allowed in (
            ("selection", self.selection, SELECTIONS),
            ("lr_schedule", self.lr_schedule, LR_SCHEDULES),
            ("loss", self.loss, LOSSES),
        ):
            if value not in allowed:
                raise ConfigError(f"{name}={value!r}; choose one of {', '.join(map(repr, allowed))}.")
        if not 0.0 < self.threshold < 1.0 or not 0.0 < self.tversky_alpha < 1.0:
            raise ConfigError(
                f"threshold={self.threshold}, tversky_alpha={self.tversky_alpha}; give values in (0, 1)."
            )

    def network_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~cardiopredict.cmr.learned.build_scar_network` (the whole model)."""
        members = {"members": int(self.ensemble)} if self.ensemble > 1 else {}
        return {**self.member_kwargs(), **members}

    def member_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of one network of the model."""
        if self.arch == "unet":
            return {"channels": list(self.channels), "num_res_units": int(self.num_res_units)}
        return {}


DEFAULT_TRAINING = ScarTrainingConfig()
"""The options ``cardiopredict cmr train-scar`` uses unless told otherwise."""


def _augmentation(seed: int) -> Any:
    from monai.transforms import (
        Compose,
        RandAffined,
        RandBiasFieldd,
        RandFlipd,
        RandGaussianNoised,
        RandScaleIntensityd,
        RandShiftIntensityd,
    )

    keys = ["image", "myo", "label"]
    transform = Compose(
        [
            RandFlipd(keys, prob=0.5, spatial_axis=0),
            RandFlipd(keys, prob=0.5, spatial_axis=1),
            RandAffined(
                keys,
                prob=0.7,
                rotate_range=(np.pi / 12,),
                scale_range=(0.1, 0.1),
                mode=("bilinear", "nearest", "nearest"),
                padding_mode="zeros",
            ),
            RandScaleIntensityd("image", factors=0.15, prob=0.5),
            RandShiftIntensityd("image", offsets=0.1, prob=0.5),
            RandBiasFieldd("image", coeff_range=(0.0, 0.2), prob=0.3),
            RandGaussianNoised("image", prob=0.3, std=0.03),
        ]
    )
    transform.set_random_state(seed=seed)
    return transform


def _stack(cases: Sequence[LabelledCase]) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([c.inputs.x[c.inputs.usable] for c in cases])
    y = np.concatenate([c.target[c.inputs.usable] for c in cases])
    return x, y


def _augmented_batch(x: np.ndarray, y: np.ndarray, transform: Any) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for image, target in zip(x, y, strict=True):
        out = transform({"image": image[0:1], "myo": image[1:2], "label": target[None]})
        myo = torch.as_tensor(out["myo"]).float()
        xs.append(torch.cat([torch.as_tensor(out["image"]).float(), myo]))
        ys.append(torch.as_tensor(out["label"]).float() * myo)
    return torch.stack(xs).as_subclass(torch.Tensor), torch.stack(ys).as_subclass(torch.Tensor)


def fit_scar_network(
    train: Sequence[LabelledCase],
    validation: Sequence[LabelledCase],
    *,
    config: ScarTrainingConfig,
    epochs: int | None = None,
    on_epoch: Any = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train a scar model (``config.ensemble`` networks) and keep the epoch ``config.selection`` picks.

    Parameters
    ----------
    train, validation : sequence of LabelledCase
        Disjoint patients; with no validation cases, ``epochs`` (or ``max_epochs``) epochs are run and
        the last epoch is kept.
    config : ScarTrainingConfig
    epochs : int, optional
        Fixed number of epochs (the final model); early stopping and threshold tuning are then off.
    on_epoch : callable, optional
        Called with (epoch, validation Dice or None) after every epoch (a progress bar).

    Returns
    -------
    network : nn.Module
        The weights of the selected epoch (a :class:`~cardiopredict.cmr.learned.ScarEnsemble` when
        ``config.ensemble > 1``).
    history : dict
        ``best_epoch``, ``epochs_run``, per epoch ``train_loss``, ``val_dice``, ``val_loss`` and
        ``learning_rate``, ``seconds``, ``threshold`` (tuned or the configured one); with an ensemble,
        the first member's curves, the median best epoch and ``members`` (every member's history).
    """
    from monai.data import get_track_meta, set_track_meta

    tracking = get_track_meta()
    set_track_meta(False)  # plain tensors out of the transforms: 3x faster augmentation
    started = time.perf_counter()
    try:
        fitted = [
            _fit(
                train,
                validation,
                config=replace(config, seed=config.seed + i),
                epochs=epochs,
                on_epoch=on_epoch,
            )
            for i in range(config.ensemble)
        ]
    finally:
        set_track_meta(tracking)
    network = fitted[0][0] if len(fitted) == 1 else ScarEnsemble([net for net, _ in fitted]).eval()
    history = dict(fitted[0][1])
    if len(fitted) > 1:
        history["members"] = [h for _, h in fitted]
        history["best_epoch"] = int(np.median([h["best_epoch"] for _, h in fitted]))
    history["total_epochs"] = sum(h["epochs_run"] for _, h in fitted)
    history["threshold"] = config.threshold
    if config.tune_threshold and validation and epochs is None:
        history["threshold"], history["threshold_dice"] = _tune_threshold(network, validation, config)
    history["seconds"] = round(time.perf_counter() - started, 2)
    return network, history


def _loss_function(config: ScarTrainingConfig) -> Any:
    from monai.losses import DiceCELoss, TverskyLoss

    if config.loss == "dice_ce":
        return DiceCELoss(sigmoid=True, batch=True)
    tversky = TverskyLoss(
        sigmoid=True, batch=True, alpha=config.tversky_alpha, beta=1.0 - config.tversky_alpha
    )
    bce = torch.nn.BCEWithLogitsLoss()
    return lambda logits, target: tversky(logits, target) + bce(logits, target)


def _optimiser(network: torch.nn.Module, config: ScarTrainingConfig, budget: int) -> tuple[Any, Any]:
    """AdamW on ``network`` and its learning-rate schedule over ``budget`` epochs (None: constant)."""
    optimiser = torch.optim.AdamW(
        network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    if config.lr_schedule != "cosine":
        return optimiser, None
    return optimiser, torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=budget)


def _fit(
    train: Sequence[LabelledCase],
    validation: Sequence[LabelledCase],
    *,
    config: ScarTrainingConfig,
    epochs: int | None,
    on_epoch: Any,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    network = build_scar_network(config.arch, **config.member_kwargs())
    if config.init_from:
        network.load_state_dict(warm_start(config).network.state_dict())
    network = network.to(device)
    budget = int(epochs or config.max_epochs)
    optimiser, schedule = _optimiser(network, config, budget)
    loss_fn = _loss_function(config)
    step = functools.partial(
        _train_epoch,
        network,
        *_stack(train),
        optimiser=optimiser,
        loss_fn=loss_fn,
        transform=_augmentation(config.seed) if config.augment else None,
        batch_size=config.batch_size,
        device=device,
    )
    validate = bool(validation) and epochs is None
    history: dict[str, Any] = {"train_loss": [], "val_dice": [], "val_loss": [], "learning_rate": []}
    best_state, best_score, best_epoch, started = None, -np.inf, 0, time.perf_counter()
    for epoch in range(1, budget + 1):
        history["learning_rate"].append(float(optimiser.param_groups[0]["lr"]))
        history["train_loss"].append(round(step(rng), 5))
        if schedule is not None:
            schedule.step()
        dice, loss = _crop_scores(network, validation, config, loss_fn) if validate else (None, None)
        history["val_dice"].append(dice)
        history["val_loss"].append(loss)
        score = {"val_dice": dice, "val_loss": None if loss is None else -loss}.get(config.selection)
        if score is None or score > best_score:
            best_score, best_epoch = (score if score is not None else best_score), epoch
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        if on_epoch is not None:
            on_epoch(epoch, dice)
        if score is not None and epoch - best_epoch >= config.patience:
            break
    network.load_state_dict(best_state)
    history.update(best_epoch=best_epoch, epochs_run=epoch, seconds=round(time.perf_counter() - started, 2))
    return network.eval(), history


def warm_start(config: ScarTrainingConfig) -> LearnedScar:
    """The saved model ``config.init_from``, checked to fit ``config``'s network and this pipeline.

    Raises
    ------
    ModelFileError
        The folder is not a readable scar model.
    ConfigError
        Its architecture, network options or preprocessing differ from ``config``'s / the pipeline's.
    """
    start = LearnedScar.load(str(config.init_from))
    wanted = {
        "arch": config.arch,
        "network_kwargs": config.member_kwargs(),
        "preprocessing": pipeline_preprocessing(),
    }
    have = {
        "arch": start.config["arch"],
        "network_kwargs": start.config["network_kwargs"],
        "preprocessing": start.preprocessing,
    }
    differ = [key for key in wanted if have[key] != wanted[key]]
    if differ:
        details = "; ".join(f"{k}: {have[k]!r} there, {wanted[k]!r} here" for k in differ)
        raise ConfigError(
            f"init_from={config.init_from}: that model cannot start this training ({details}); train with "
            "the same architecture options, or leave init_from out."
        )
    return start


def _train_epoch(
    network: torch.nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    *,
    optimiser: torch.optim.Optimizer,
    loss_fn: Any,
    transform: Any,
    batch_size: int,
    device: torch.device,
) -> float:
    """One shuffled pass over the training crops; returns the mean loss."""
    network.train()
    order, total = rng.permutation(len(x)), 0.0
    for start in range(0, len(x), batch_size):
        rows = order[start : start + batch_size]
        if transform is not None:
            xb, yb = _augmented_batch(x[rows], y[rows], transform)
        else:
            xb, yb = torch.from_numpy(x[rows]), torch.from_numpy(y[rows][:, None])
        optimiser.zero_grad()
        loss = loss_fn(network(xb.to(device)), yb.to(device))
        loss.backward()
        optimiser.step()
        total += float(loss.detach()) * len(rows)
    return total / len(x)


def _case_probabilities(
    network: torch.nn.Module, cases: Sequence[LabelledCase], config: ScarTrainingConfig
) -> list[np.ndarray]:
    device = str(resolve_device(config.device))
    return [
        predict_probabilities(
            network, c.inputs.x[c.inputs.usable], device=device, flips=config.test_time_flips
        )
        for c in cases
    ]


def _crop_scores(
    network: torch.nn.Module, cases: Sequence[LabelledCase], config: ScarTrainingConfig, loss_fn: Any
) -> tuple[float, float]:
    """Mean per-case crop Dice at ``config.threshold`` and mean per-case loss (no augmentation)."""
    dice, losses = [], []
    for case, prob in zip(cases, _case_probabilities(network, cases, config), strict=True):
        truth = case.target[case.inputs.usable]
        dice.append(scar_dice(prob >= config.threshold, truth > 0.5))
        logits = torch.logit(torch.from_numpy(prob).clamp(1e-6, 1 - 1e-6))[:, None]
        losses.append(float(loss_fn(logits, torch.from_numpy(truth)[:, None])))
    return round(float(np.mean(dice)), 5), round(float(np.mean(losses)), 5)


def _tune_threshold(
    network: torch.nn.Module, cases: Sequence[LabelledCase], config: ScarTrainingConfig
) -> tuple[float, dict[str, float]]:
    """The grid threshold with the best mean per-case crop Dice on ``cases`` (ties: nearest 0.5)."""
    probs = _case_probabilities(network, cases, config)
    truths = [c.target[c.inputs.usable] > 0.5 for c in cases]
    scores = {
        t: float(np.mean([scar_dice(p >= t, y) for p, y in zip(probs, truths, strict=True)]))
        for t in THRESHOLD_GRID
    }
    best = max(scores, key=lambda t: (round(scores[t], 6), -abs(t - 0.5)))
    return float(best), {f"{t:.2f}": round(v, 4) for t, v in scores.items()}


def choose_min_component(
    masks: Sequence[np.ndarray],
    cases: Sequence[LabelledCase],
    *,
    grid: Sequence[float] = MIN_COMPONENT_GRID_MM2,
) -> tuple[float, dict[str, float]]:
    """The grid area whose component removal gives ``cases`` the best mean Dice (ties: the smaller area).

    Parameters
    ----------
    masks : sequence of bool ndarray of shape (n_slices, H, W)
        The model's scar of each case at the acquired resolution, every component kept.
    cases : sequence of LabelledCase
        The cases the area is fitted on (inner validation cases, never held-out ones).
    grid : sequence of float
        Candidate areas, mm².

    Returns
    -------
    min_component_mm2 : float
    scores : dict
        Mean Dice per candidate area (``"{area:g}"`` keys).
    """
    return _best_on_grid(
        "choose_min_component",
        grid,
        masks,
        cases,
        lambda mask, case, area: remove_small_components(
            mask, pixel_spacing_mm=case.pixel_spacing_mm, min_component_mm2=area
        ),
    )


def choose_min_scar_percent(
    masks: Sequence[np.ndarray],
    cases: Sequence[LabelledCase],
    *,
    grid: Sequence[float] = MIN_SCAR_PERCENT_GRID,
) -> tuple[float, dict[str, float]]:
    """The grid burden under which calling a case scar-free gives ``cases`` the best mean Dice.

    Ties go to the smaller burden.

    Parameters
    ----------
    masks : sequence of bool ndarray of shape (n_slices, H, W)
        The model's scar of each case at the acquired resolution (after any component removal).
    cases : sequence of LabelledCase
        The cases the burden is fitted on (inner validation cases, never held-out ones).
    grid : sequence of float
        Candidate burdens, % of the myocardium.

    Returns
    -------
    min_scar_percent : float
    scores : dict
        Mean Dice per candidate burden (``"{burden:g}"`` keys).
    """
    return _best_on_grid(
        "choose_min_scar_percent",
        grid,
        masks,
        cases,
        lambda mask, case, burden: remove_trace_scar(mask, case.myo, min_scar_percent=burden),
    )


def choose_postprocessing(
    masks: Sequence[np.ndarray],
    cases: Sequence[LabelledCase],
    *,
    min_component: bool = True,
    min_scar_percent: bool = False,
) -> dict[str, Any]:
    """Fit the post-processing steps asked for on ``cases``, in order (a step not asked for keeps 0).

    First the area (:func:`choose_min_component`) on ``masks``; then, with that area applied, the burden
    (:func:`choose_min_scar_percent`).

    Parameters
    ----------
    masks : sequence of bool ndarray of shape (n_slices, H, W)
        The model's scar of each case at the acquired resolution, without post-processing.
    cases : sequence of LabelledCase
        The cases the values are fitted on (inner validation cases, never held-out ones).
    min_component, min_scar_percent : bool
        Which steps to fit.

    Returns
    -------
    dict
        ``min_component_mm2``, ``min_scar_percent`` and, per fitted step, its mean Dice per candidate
        (``min_component_dice``, ``min_scar_percent_dice``).
    """
    fitted: dict[str, Any] = {"min_component_mm2": 0.0, "min_scar_percent": 0.0}
    if min_component:
        fitted["min_component_mm2"], fitted["min_component_dice"] = choose_min_component(masks, cases)
    if min_scar_percent:
        masks = [
            postprocess_scar(
                m, c.myo, pixel_spacing_mm=c.pixel_spacing_mm, min_component_mm2=fitted["min_component_mm2"]
            )
            for m, c in zip(masks, cases, strict=True)
        ]
        fitted["min_scar_percent"], fitted["min_scar_percent_dice"] = choose_min_scar_percent(masks, cases)
    return fitted


def _best_on_grid(where, grid, masks, cases, apply) -> tuple[float, dict[str, float]]:  # type: ignore[no-untyped-def]
    """The grid value whose ``apply(mask, case, value)`` gives the best mean Dice (ties: the smaller)."""
    if not cases or len(masks) != len(cases):
        raise InputError(f"{where}: {len(masks)} masks for {len(cases)} cases; give one per case.")
    scores = {
        float(value): float(
            np.mean(
                [
                    scar_dice(apply(mask, case, float(value)), case.truth)
                    for mask, case in zip(masks, cases, strict=True)
                ]
            )
        )
        for value in grid
    }
    best = max(scores, key=lambda value: (round(scores[value], 6), -value))
    return best, {f"{value:g}": round(score, 4) for value, score in scores.items()}
