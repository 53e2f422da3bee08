"""The scar network's fit loop: MONAI augmentation, Dice + BCE, AdamW, early stopping on validation cases."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from cardiopredict.cmr.learned import build_scar_network, predict_probabilities
from cardiopredict.cmr.scar import SCAR_LABELS, scar_dice
from cardiopredict.errors import ConfigError
from cardiopredict.training._scar_cases import LabelledCase
from cardiopredict.training.crossval import resolve_device


@dataclass(frozen=True)
class ScarTrainingConfig:
    """Options of the scar network's training (defaults sized for a shared CPU).

    Parameters
    ----------
    arch : {"unet", "swinunetr"}
    channels : tuple of int
        U-Net channels per level.
    num_res_units : int
        Residual units per U-Net block (1 keeps a CPU epoch short; 2 is MONAI's usual choice).
    max_epochs, patience : int
        Early stopping on the inner validation cases' mean Dice.
    batch_size : int
    learning_rate, weight_decay : float
        AdamW.
    validation_fraction : float
        Share of a fold's training patients kept aside for early stopping.
    augment : bool
        MONAI dictionary augmentation (flips, rotation +-15 deg, scale +-10 %, intensity scale/shift,
        bias field, Gaussian noise), drawn from ``seed``.
    seed : int
    device : str
        ``"cpu"``, ``"cuda"`` or ``"auto"``.
    threads : int, optional
        ``torch.set_num_threads`` for CPU training.
    """

    arch: str = "unet"
    channels: tuple[int, ...] = (16, 32, 64, 128)
    num_res_units: int = 1
    max_epochs: int = 60
    patience: int = 12
    batch_size: int = 16
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    validation_fraction: float = 0.2
    augment: bool = True
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    threshold: float = 0.5
    scar_labels: tuple[int, ...] = field(default=SCAR_LABELS)

    def __post_init__(self) -> None:
        if self.arch not in ("unet", "swinunetr"):
            raise ConfigError(f"arch={self.arch!r}; choose 'unet' or 'swinunetr'.")
        if self.max_epochs < 1 or self.patience < 1 or self.batch_size < 1:
            raise ConfigError("max_epochs, patience and batch_size must be >= 1.")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ConfigError(f"validation_fraction={self.validation_fraction}; give a value in (0, 0.5).")

    def network_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~cardiopredict.cmr.learned.build_scar_network`."""
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
    """Train one scar network (Dice + BCE, AdamW) with early stopping on ``validation``.

    Parameters
    ----------
    train, validation : sequence of LabelledCase
        Disjoint patients; with no validation cases, ``epochs`` (or ``max_epochs``) epochs are run.
    config : ScarTrainingConfig
    epochs : int, optional
        Fixed number of epochs (the final model); early stopping is then off.
    on_epoch : callable, optional
        Called with (epoch, validation Dice or None) after every epoch (a progress bar).

    Returns
    -------
    network : nn.Module
        The weights of the best validation epoch (or of the last epoch).
    history : dict
        ``best_epoch``, ``epochs_run``, ``val_dice`` per epoch, ``train_loss`` per epoch, ``seconds``.
    """
    from monai.data import get_track_meta, set_track_meta

    tracking = get_track_meta()
    set_track_meta(False)  # plain tensors out of the transforms: 3x faster augmentation
    try:
        return _fit(train, validation, config=config, epochs=epochs, on_epoch=on_epoch)
    finally:
        set_track_meta(tracking)


def _fit(
    train: Sequence[LabelledCase],
    validation: Sequence[LabelledCase],
    *,
    config: ScarTrainingConfig,
    epochs: int | None,
    on_epoch: Any,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    from monai.losses import DiceCELoss

    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    network = build_scar_network(config.arch, **config.network_kwargs()).to(device)
    optimiser = torch.optim.AdamW(
        network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    step = functools.partial(
        _train_epoch,
        network,
        *_stack(train),
        optimiser=optimiser,
        loss_fn=DiceCELoss(sigmoid=True, batch=True),
        transform=_augmentation(config.seed) if config.augment else None,
        batch_size=config.batch_size,
        device=device,
    )
    history: dict[str, Any] = {"train_loss": [], "val_dice": []}
    best_state, best_score, best_epoch, started = None, -1.0, 0, time.perf_counter()
    for epoch in range(1, int(epochs or config.max_epochs) + 1):
        history["train_loss"].append(round(step(rng), 5))
        score = _crop_dice(network, validation, config) if validation and epochs is None else None
        history["val_dice"].append(score)
        if score is None or score > best_score:
            best_score, best_epoch = (score if score is not None else best_score), epoch
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        if on_epoch is not None:
            on_epoch(epoch, score)
        if score is not None and epoch - best_epoch >= config.patience:
            break
    network.load_state_dict(best_state)
    history.update(best_epoch=best_epoch, epochs_run=epoch, seconds=round(time.perf_counter() - started, 2))
    return network.eval(), history


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


def _crop_dice(network: torch.nn.Module, cases: Sequence[LabelledCase], config: ScarTrainingConfig) -> float:
    """Mean per-case Dice on the crop (the early-stopping score)."""
    scores = []
    for case in cases:
        usable = case.inputs.usable
        prob = predict_probabilities(
            network, case.inputs.x[usable], device=str(resolve_device(config.device))
        )
        scores.append(scar_dice(prob >= config.threshold, case.target[usable] > 0.5))
    return float(np.mean(scores))
