"""A learned LGE scar segmenter: a MONAI 2-D network on the pipeline's oriented crop, saved as safetensors.

The network sees what the VA model sees: each slice cut by
:func:`cardiopredict.cmr.preprocess.oriented_slice` (LV centre at the crop centre, RV insertion point at
6 o'clock when known, 1.25 mm pixels, 128 x 128) with two input channels, the LGE normalised by the
myocardium's min/max and the myocardium mask, and it returns scar logits. Logits outside the
myocardium are forced to a large negative value inside :class:`ScarSegmentationNet`, so scar never
leaves the myocardium. :class:`LearnedScar` wraps a trained network as a
:class:`~cardiopredict.cmr.scar.ScarSegmenter`: it crops, predicts, and maps the probability back onto
the source grid with the inverse of the same affine, so it is compared with the expert (and with the
threshold rules) at the acquired resolution.

Architectures (MONAI): ``"unet"`` (default), a residual U-Net (:class:`monai.networks.nets.UNet` with
residual units) with small channels for CPUs; ``"swinunetr"``, :class:`monai.networks.nets.SwinUNETR`
in 2-D, the option closest to the paper's Swin-UNet. Training lives in
:mod:`cardiopredict.training.segmentation` (``cardiopredict cmr train-scar``).

A model folder holds ``scar_model.safetensors`` (weights only; nothing is unpickled) and
``scar_model.json`` (format, architecture and its keyword arguments, preprocessing, which canonical
labels counted as scar, the training-data fingerprint, the probability threshold, whether the
probabilities are averaged over the four flips of the crop (test-time augmentation), the smallest scar
component kept (post-processing, mm² at the acquired resolution), training summary).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from scipy import ndimage
from torch import nn

from cardiopredict._io import atomic_write_bytes, atomic_write_json, sha256_file
from cardiopredict.cmr._scar_rules import gray_zone_from_scar
from cardiopredict.cmr.geometry import (
    DEFAULT_CROP_SIZE,
    DEFAULT_TARGET_SPACING_MM,
    lv_centre,
    oriented_uncrop,
)
from cardiopredict.cmr.preprocess import oriented_slice, pipeline_preprocessing
from cardiopredict.cmr.scar import SCAR_LABELS, ScarResult
from cardiopredict.errors import ConfigError, InputError, IntensityError, ModelFileError

__all__ = [
    "ARCHITECTURES",
    "CONFIG_FILE",
    "MIN_COMPONENT_GRID_MM2",
    "MIN_SCAR_PERCENT_GRID",
    "WEIGHTS_FILE",
    "LearnedScar",
    "ScarEnsemble",
    "ScarSegmentationNet",
    "build_scar_network",
    "model_inputs",
    "postprocess_scar",
    "remove_small_components",
    "remove_trace_scar",
    "save_scar_model",
]

FORMAT = "cardiopredict-scar-segmenter/1"
WEIGHTS_FILE = "scar_model.safetensors"
CONFIG_FILE = "scar_model.json"
ARCHITECTURES = ("unet", "swinunetr")
OUTSIDE_LOGIT = -20.0
"""Logit given to every pixel outside the myocardium (probability ~2e-9)."""
MIN_COMPONENT_GRID_MM2 = (0.0, 5.0, 10.0, 20.0, 40.0, 80.0)
"""Smallest-component areas (mm²) the training's post-processing fit chooses from (0 keeps everything)."""
MIN_SCAR_PERCENT_GRID = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)
"""Smallest case scar burdens (% of the myocardium) the training's post-processing fit chooses from."""
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


class ScarSegmentationNet(nn.Module):
    """A 2-D segmentation backbone whose scar logits are confined to the myocardium channel.

    Parameters
    ----------
    backbone : nn.Module
        Maps (batch, 2, S, S) to (batch, 1, S, S) logits.

    Notes
    -----
    ``forward(x)`` takes ``x`` float32 (batch, 2, S, S): channel 0 the normalised LGE, channel 1 the
    myocardium (0/1); it returns logits (batch, 1, S, S), equal to ``OUTSIDE_LOGIT`` outside the
    myocardium.
    """

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.backbone(x)
        return logits.masked_fill(x[:, 1:2] < 0.5, OUTSIDE_LOGIT)


class ScarEnsemble(nn.Module):
    """Scar networks of one architecture whose probabilities are averaged.

    Parameters
    ----------
    members : sequence of ScarSegmentationNet

    Notes
    -----
    ``forward(x)`` returns the logit of the members' mean probability (batch, 1, S, S), equal to
    ``OUTSIDE_LOGIT`` outside the myocardium, so an ensemble is used wherever one network is.
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probability = torch.stack([torch.sigmoid(member(x)) for member in self.members]).mean(dim=0)
        return torch.logit(probability, eps=1e-7).masked_fill(x[:, 1:2] < 0.5, OUTSIDE_LOGIT)


def build_scar_network(
    arch: str = "unet",
    *,
    channels: Sequence[int] = (16, 32, 64, 128),
    num_res_units: int = 2,
    feature_size: int = 12,
    dropout: float = 0.1,
    members: int = 1,
) -> nn.Module:
    """The scar network: MONAI residual U-Net (default) or 2-D SwinUNETR, 2 channels in, 1 logit out.

    Parameters
    ----------
    arch : {"unet", "swinunetr"}
    channels : sequence of int
        U-Net channels per level (stride 2 between levels).
    num_res_units : int
        Residual units per U-Net block.
    feature_size : int
        SwinUNETR embedding size (a multiple of 12).
    dropout : float
    members : int
        More than 1: a :class:`ScarEnsemble` of that many networks (trained separately).

    Returns
    -------
    ScarSegmentationNet or ScarEnsemble
    """
    options = {
        "channels": channels,
        "num_res_units": num_res_units,
        "feature_size": feature_size,
        "dropout": dropout,
    }
    if int(members) < 1:
        raise InputError(f"members={members}; give 1 (one network) or more (an ensemble).")
    if int(members) > 1:
        return ScarEnsemble([_build_one(arch, **options) for _ in range(int(members))])
    return _build_one(arch, **options)


def _build_one(
    arch: str, *, channels: Sequence[int], num_res_units: int, feature_size: int, dropout: float
) -> ScarSegmentationNet:
    from monai.networks.nets import SwinUNETR, UNet

    if arch == "unet":
        channels = tuple(int(c) for c in channels)
        backbone: nn.Module = UNet(
            spatial_dims=2,
            in_channels=2,
            out_channels=1,
            channels=channels,
            strides=(2,) * (len(channels) - 1),
            num_res_units=int(num_res_units),
            dropout=float(dropout),
        )
    elif arch == "swinunetr":
        from monai.utils import optional_import

        if not optional_import("einops")[1]:
            raise ConfigError(
                "arch='swinunetr' needs the einops package, which is not installed; install it "
                "(pip install einops) or use arch='unet'."
            )
        backbone = SwinUNETR(
            in_channels=2,
            out_channels=1,
            feature_size=int(feature_size),
            spatial_dims=2,
            drop_rate=float(dropout),
        )
    else:
        raise InputError(f"unknown scar network {arch!r}; choose one of {', '.join(ARCHITECTURES)}.")
    return ScarSegmentationNet(backbone)


@dataclass(frozen=True)
class ModelInputs:
    """A slice stack cut for the network.

    Parameters
    ----------
    x : float32 ndarray of shape (n_slices, 2, size, size)
        [normalised LGE, myocardium] on the oriented crop (zeros for slices that cannot be cut).
    centres : float ndarray of shape (n_slices, 2)
        LV centre per slice, source (row, col) pixels (NaN where the slice was skipped).
    angles : float ndarray of shape (n_slices,)
        Rotation applied per slice, degrees.
    usable : bool ndarray of shape (n_slices,)
        Slices with a myocardium of varying intensity.
    """

    x: np.ndarray
    centres: np.ndarray
    angles: np.ndarray
    usable: np.ndarray


def model_inputs(
    images: np.ndarray,
    myo_mask: np.ndarray,
    *,
    pixel_spacing_mm: tuple[float, float],
    rotation_deg: np.ndarray | None = None,
    size: int = DEFAULT_CROP_SIZE,
    target_spacing_mm: float = DEFAULT_TARGET_SPACING_MM,
) -> ModelInputs:
    """Cut every slice as the pipeline does (:func:`~cardiopredict.cmr.preprocess.oriented_slice`).

    Parameters
    ----------
    images : float ndarray of shape (n_slices, H, W)
    myo_mask : bool ndarray of shape (n_slices, H, W)
    pixel_spacing_mm : (row_mm, col_mm)
    rotation_deg : float ndarray of shape (n_slices,), optional
        Rotation putting the insertion point at 6 o'clock; NaN or None means 0 (unrotated).
    size, target_spacing_mm
        The crop.

    Returns
    -------
    ModelInputs
    """
    n = len(images)
    x = np.zeros((n, 2, size, size), dtype=np.float32)
    centres = np.full((n, 2), np.nan)
    angles = np.zeros(n)
    usable = np.zeros(n, dtype=bool)
    for k in range(n):
        if not myo_mask[k].any():
            continue
        angle = 0.0 if rotation_deg is None else float(rotation_deg[k])
        angles[k] = angle if np.isfinite(angle) else 0.0
        centres[k] = lv_centre(myo_mask[k])
        try:
            lge, myo = oriented_slice(
                images[k],
                myo_mask[k],
                centres[k],
                angles[k],
                spacing_mm=pixel_spacing_mm,
                target_spacing_mm=target_spacing_mm,
                size=size,
            )
        except IntensityError:
            continue
        x[k, 0], x[k, 1], usable[k] = lge, myo, True
    return ModelInputs(x, centres, angles, usable)


def predict_probabilities(
    network: nn.Module,
    x: np.ndarray,
    *,
    batch_size: int = 16,
    device: str = "cpu",
    flips: bool = False,
) -> np.ndarray:
    """Scar probability per crop pixel.

    Parameters
    ----------
    network : nn.Module
    x : float32 ndarray of shape (n, 2, size, size)
        Model inputs (:func:`model_inputs`).
    batch_size : int
    device : str
    flips : bool
        Test-time augmentation: average the probabilities of the crop and of its row, column and both
        flips (each mapped back), at four times the cost.

    Returns
    -------
    float32 ndarray of shape (n, size, size)
        0 outside the myocardium channel (up to ``sigmoid(OUTSIDE_LOGIT)``).
    """
    network.eval()
    views = ((), (-2,), (-1,), (-2, -1)) if flips else ((),)
    out = np.zeros((len(x), *x.shape[2:]), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size])).to(device)
            total = torch.zeros(batch.shape[0], *batch.shape[2:])
            for dims in views:
                view = torch.flip(batch, dims) if dims else batch
                prob = torch.sigmoid(network(view))[:, 0]
                total += (torch.flip(prob, dims) if dims else prob).cpu()  # (B, H, W): same dims
            out[start : start + len(batch)] = (total / len(views)).numpy()
    return out


def remove_small_components(
    mask: np.ndarray, *, pixel_spacing_mm: tuple[float, float], min_component_mm2: float
) -> np.ndarray:
    """Drop every scar component smaller than ``min_component_mm2`` (2-D, per slice, 8-connected).

    Parameters
    ----------
    mask : bool ndarray of shape (n_slices, H, W)
        Scar on the acquired grid (already inside the myocardium).
    pixel_spacing_mm : (row_mm, col_mm)
        Of the grid, so the area means the same at every resolution.
    min_component_mm2 : float
        Components of a smaller area are removed; 0 keeps every component.

    Returns
    -------
    bool ndarray of shape (n_slices, H, W)
        A copy of ``mask`` without the small components.

    Raises
    ------
    InputError
        ``min_component_mm2`` negative or not finite, or a mask that is not a slice stack.
    """
    min_component_mm2 = _checked_min_component(min_component_mm2, "remove_small_components")
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3:
        raise InputError(f"remove_small_components: mask of shape {mask.shape}; give (n_slices, H, W).")
    pixel_mm2 = float(pixel_spacing_mm[0]) * float(pixel_spacing_mm[1])
    kept = mask.copy()
    if min_component_mm2 == 0.0:
        return kept
    for k, plane in enumerate(mask):
        labelled, n = ndimage.label(plane, structure=_EIGHT_CONNECTED)
        if n:
            area_mm2 = np.bincount(labelled.ravel(), minlength=n + 1) * pixel_mm2
            small = area_mm2 < min_component_mm2
            small[0] = False  # background
            kept[k][small[labelled]] = False
    return kept


def remove_trace_scar(mask: np.ndarray, myo_mask: np.ndarray, *, min_scar_percent: float) -> np.ndarray:
    """Call a case scar-free when its scar is under ``min_scar_percent`` of its myocardium (pixel counts).

    A case-level decision (the whole stack): on cohorts with scar-free patients a few false-positive
    pixels cost such a case its whole Dice (0 instead of 1), while a true infarct rarely covers under a
    percent or two of the myocardium.

    Parameters
    ----------
    mask : bool ndarray of shape (n_slices, H, W)
        Scar on the acquired grid (inside the myocardium).
    myo_mask : bool ndarray of the same shape
    min_scar_percent : float
        0 keeps every mask.

    Returns
    -------
    bool ndarray of shape (n_slices, H, W)
        A copy of ``mask``, or all False.

    Raises
    ------
    InputError
        ``min_scar_percent`` negative or not finite, or masks of different shapes.
    """
    min_scar_percent = _checked_min_scar_percent(min_scar_percent, "remove_trace_scar")
    mask, myo_mask = np.asarray(mask, dtype=bool), np.asarray(myo_mask, dtype=bool)
    if mask.shape != myo_mask.shape:
        raise InputError(
            f"remove_trace_scar: scar of shape {mask.shape}, myocardium {myo_mask.shape}; give one case's "
            "masks on the same grid."
        )
    burden_pct = 100.0 * mask.sum() / max(int(myo_mask.sum()), 1)
    return np.zeros_like(mask) if burden_pct < min_scar_percent else mask.copy()


def postprocess_scar(
    mask: np.ndarray,
    myo_mask: np.ndarray,
    *,
    pixel_spacing_mm: tuple[float, float],
    min_component_mm2: float = 0.0,
    min_scar_percent: float = 0.0,
) -> np.ndarray:
    """The learned scar's post-processing, in order: :func:`remove_small_components`, then
    :func:`remove_trace_scar` (masks of one case on the acquired grid; 0 skips a step)."""
    kept = remove_small_components(
        mask, pixel_spacing_mm=pixel_spacing_mm, min_component_mm2=min_component_mm2
    )
    return remove_trace_scar(kept, myo_mask, min_scar_percent=min_scar_percent)


def _checked_min_scar_percent(value: float, where: str) -> float:
    value = float(value)
    if not np.isfinite(value) or not 0.0 <= value < 100.0:
        raise InputError(
            f"{where}: min_scar_percent={value}; give a burden in % of the myocardium in [0, 100) "
            "(0 keeps every case's scar)."
        )
    return value


def _checked_min_component(value: float, where: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0.0:
        raise InputError(
            f"{where}: min_component_mm2={value}; give an area in mm² >= 0 (0 keeps every component)."
        )
    return value


class LearnedScar:
    """A trained scar network as a :class:`~cardiopredict.cmr.scar.ScarSegmenter`. Build with :meth:`load`.

    Parameters
    ----------
    network : ScarSegmentationNet or ScarEnsemble
    config : dict
        The model's ``scar_model.json``.
    source : str
        Where it was loaded from (for messages and ``describe()``).
    threshold : float, optional
        Probability above which a pixel is scar (default: the model's, else 0.5).
    test_time_flips : bool, optional
        Average over the four flips of each crop (default: the model's, else off).
    min_component_mm2 : float, optional
        Scar components (2-D, per slice) smaller than this area are removed after thresholding
        (:func:`remove_small_components`; default: the model's, else 0 = none).
    min_scar_percent : float, optional
        Then a case whose scar is under this % of its myocardium is called scar-free
        (:func:`remove_trace_scar`; default: the model's, else 0 = none).
    device : str
    """

    name: ClassVar[str] = "learned"

    def __init__(
        self,
        network: nn.Module,
        config: dict[str, Any],
        *,
        source: str = "",
        threshold: float | None = None,
        test_time_flips: bool | None = None,
        min_component_mm2: float | None = None,
        min_scar_percent: float | None = None,
        device: str = "cpu",
    ) -> None:
        self.network = network.to(device).eval()
        self.config = config
        self.source = source
        self.threshold = float(config.get("threshold", 0.5) if threshold is None else threshold)
        if not 0.0 < self.threshold < 1.0:
            raise InputError(f"LearnedScar: threshold={self.threshold}; give a probability in (0, 1).")
        self.test_time_flips = bool(
            config.get("test_time_flips", False) if test_time_flips is None else test_time_flips
        )
        self.min_component_mm2 = _checked_min_component(
            config.get("min_component_mm2", 0.0) if min_component_mm2 is None else min_component_mm2,
            "LearnedScar",
        )
        self.min_scar_percent = _checked_min_scar_percent(
            config.get("min_scar_percent", 0.0) if min_scar_percent is None else min_scar_percent,
            "LearnedScar",
        )
        self.device = device
        self.preprocessing = dict(config["preprocessing"])

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        threshold: float | None = None,
        test_time_flips: bool | None = None,
        min_component_mm2: float | None = None,
        min_scar_percent: float | None = None,
        device: str = "cpu",
    ) -> LearnedScar:
        """Load ``scar_model.json`` + ``scar_model.safetensors`` from ``directory``.

        ``threshold``, ``test_time_flips``, ``min_component_mm2`` and ``min_scar_percent`` override the
        model's own (see the class).

        Raises
        ------
        ModelFileError
            Missing, unreadable or mismatching files (pickled weights are refused).
        """
        folder = Path(directory)
        config = _read_config(folder)
        weights = folder / WEIGHTS_FILE
        try:
            state = load_file(str(weights), device="cpu")
        except (SafetensorError, OSError, ValueError, RuntimeError) as error:
            raise ModelFileError(
                f"{weights}: not a readable safetensors file ({error}); retrain the model "
                "(cardiopredict cmr train-scar) or restore the file."
            ) from error
        network = build_scar_network(config["arch"], **config["network_kwargs"])
        try:
            network.load_state_dict(state)
        except RuntimeError as error:
            raise ModelFileError(
                f"{weights}: the weights do not fit the {config['arch']!r} network of {CONFIG_FILE} "
                f"({str(error).splitlines()[0]}); the two files come from different models."
            ) from error
        config = {**config, "weights_sha256": sha256_file(weights)}
        return cls(
            network,
            config,
            source=str(folder),
            threshold=threshold,
            test_time_flips=test_time_flips,
            min_component_mm2=min_component_mm2,
            min_scar_percent=min_scar_percent,
            device=device,
        )

    def __call__(
        self,
        images: np.ndarray,
        myo_mask: np.ndarray,
        *,
        pixel_spacing_mm: tuple[float, float],
        labels: np.ndarray | None = None,
        rotation_deg: np.ndarray | None = None,
    ) -> ScarResult:
        size, target = int(self.preprocessing["size"]), float(self.preprocessing["target_spacing_mm"])
        cut = model_inputs(
            images,
            myo_mask,
            pixel_spacing_mm=pixel_spacing_mm,
            rotation_deg=rotation_deg,
            size=size,
            target_spacing_mm=target,
        )
        scar = np.zeros(images.shape, dtype=bool)
        if cut.usable.any():
            probability = predict_probabilities(
                self.network, cut.x[cut.usable], device=self.device, flips=self.test_time_flips
            )
            for k, prob in zip(np.flatnonzero(cut.usable), probability, strict=True):
                back = oriented_uncrop(
                    prob,
                    cut.centres[k],
                    cut.angles[k],
                    shape=images.shape[1:],
                    spacing_mm=pixel_spacing_mm,
                    target_mm=target,
                )
                scar[k] = (back >= self.threshold) & myo_mask[k]
        scar = postprocess_scar(
            scar,
            myo_mask,
            pixel_spacing_mm=pixel_spacing_mm,
            min_component_mm2=self.min_component_mm2,
            min_scar_percent=self.min_scar_percent,
        )
        gray = gray_zone_from_scar(images, myo_mask, scar, rule="fwhm")
        params = {key: value for key, value in self.describe().items() if key != "name"}
        return ScarResult(scar, gray, None, np.full(len(images), self.threshold), self.name, params)

    @property
    def training_patients(self) -> frozenset[str]:
        """``patient_id`` of every case the network was fitted or validated on, and of its starting
        network's cases where the model lists them (``init_from``; models saved before 2026-12-03 give
        only their number). A study refuses to evaluate these patients with it (leakage)."""
        data = self.config["training_data"]
        start = data.get("initialised_from", {}).get("patient_ids", [])
        return frozenset(str(pid) for pid in [*data.get("patients", []), *start])

    def describe(self) -> dict[str, Any]:
        """Name, source, architecture, weights fingerprint, training-data fingerprint, preprocessing."""
        return {
            "name": self.name,
            "source": self.source,
            "arch": self.config["arch"],
            "network_kwargs": self.config["network_kwargs"],
            "weights_sha256": self.config.get("weights_sha256"),
            "training_data_sha256": self.config["training_data"]["sha256"],
            "scar_labels": self.config["scar_labels"],
            "threshold": self.threshold,
            "test_time_flips": self.test_time_flips,
            "min_component_mm2": self.min_component_mm2,
            "min_scar_percent": self.min_scar_percent,
            "preprocessing": self.preprocessing,
        }


def save_scar_model(
    network: nn.Module,
    directory: str | Path,
    *,
    arch: str,
    network_kwargs: dict[str, Any],
    scar_labels: Sequence[int] = SCAR_LABELS,
    training_data: dict[str, Any],
    training: dict[str, Any] | None = None,
    size: int = DEFAULT_CROP_SIZE,
    target_spacing_mm: float = DEFAULT_TARGET_SPACING_MM,
    threshold: float = 0.5,
    test_time_flips: bool = False,
    min_component_mm2: float = 0.0,
    min_scar_percent: float = 0.0,
) -> Path:
    """Write ``scar_model.safetensors`` then ``scar_model.json`` (last: a folder without it is unfinished).

    Parameters
    ----------
    network : nn.Module
        The trained :class:`ScarSegmentationNet` (or :class:`ScarEnsemble`).
    directory : path
    arch, network_kwargs
        As given to :func:`build_scar_network`.
    scar_labels : sequence of int
        Canonical labels that counted as scar in training (3 infarct, 4 no-reflow).
    training_data : dict
        At least ``sha256`` (fingerprint of the training arrays) and ``patients``.
    training : dict, optional
        Epochs, loss, seed ... (stored as given).
    size, target_spacing_mm
        The preprocessing the network was trained on.
    threshold : float
        Probability threshold for a scar pixel.
    test_time_flips : bool
        Whether the probabilities are averaged over the four flips of each crop.
    min_component_mm2 : float
        Smallest scar component kept after thresholding, mm² (0 keeps every component).
    min_scar_percent : float
        Smallest case scar burden kept, % of the myocardium (0 keeps every case's scar).

    Returns
    -------
    Path
        ``directory``.
    """
    min_component_mm2 = _checked_min_component(min_component_mm2, "save_scar_model")
    min_scar_percent = _checked_min_scar_percent(min_scar_percent, "save_scar_model")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in network.state_dict().items()}
    atomic_write_bytes(folder / WEIGHTS_FILE, save(state, metadata={"format": FORMAT}))
    atomic_write_json(
        folder / CONFIG_FILE,
        {
            "format": FORMAT,
            "arch": arch,
            "network_kwargs": dict(network_kwargs),
            "preprocessing": pipeline_preprocessing(size=size, target_spacing_mm=target_spacing_mm),
            "scar_labels": [int(v) for v in scar_labels],
            "threshold": float(threshold),
            "test_time_flips": bool(test_time_flips),
            "min_component_mm2": min_component_mm2,
            "min_scar_percent": min_scar_percent,
            "training_data": dict(training_data),
            "training": dict(training or {}),
        },
    )
    return folder


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        pickles = sorted(
            p.name for p in folder.glob("*") if p.suffix.lower() in (".pt", ".pth", ".pkl", ".ckpt")
        )
        hint = (
            f" It holds {pickles}: pickled weights are refused (they run code when loaded)."
            if pickles
            else ""
        )
        raise ModelFileError(
            f"{path} not found: {folder} is not a scar model folder (train one with "
            f"`cardiopredict cmr train-scar`, then pass learned:<out>/final).{hint}"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{path}: not valid JSON ({error}); the file is corrupt.") from error
    missing = [
        k for k in ("format", "arch", "network_kwargs", "preprocessing", "training_data") if k not in config
    ]
    if missing or config.get("format") != FORMAT:
        raise ModelFileError(
            f"{path}: not a cardiopredict scar model (format {config.get('format')!r}, missing {missing})."
        )
    return config
