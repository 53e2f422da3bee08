"""ScarNet: the paper's sliding CNN for ventricular-arrhythmia risk from LGE scar maps (section 2.2).

The paper fixes: 3-10 short-axis slices per patient, each a two-channel 128 x 128 image (myocardium
mask, scar mask) oriented so the RV insertion point is at 6 o'clock; a "sliding CNN encoder" of
convolutional layers applied to every slice on its own, giving a fixed-length vector per slice; an MLP
over up to 10 slice vectors that weighs slices and features; one binary output (we return the logit;
the loss applies the sigmoid).

What the paper leaves open, and what we chose
--------------------------------------------
* **Encoder weights shared across slices** ("sliding"): one encoder for every slice position, so the
  ~190 training patients of a fold train one set of filters, not ten.
* **Encoder layout, chosen for speed on 2 CPU cores** (the study, 5 folds x <= 100 epochs over ~190
  patients x <= 10 slices, must fit in ~15 min, i.e. ~1 s per epoch): a patchify stem
  (``Conv2d(C, w, 4, stride=4)``, 128 -> 32 px, 5 mm per feature pixel: 4 x 4 pixels at 1.25 mm, less
  than a wall thickness) then two ``3 x 3`` stride-2 convolutions (``w -> 2w -> 2w``, 32 -> 16 -> 8 px),
  each followed by batch normalisation and ReLU: about 0.75 M multiply-adds (1.5 MFLOP counted) per
  slice with ``width=8`` (``benchmarks/scarnet_speed.py`` measures time and counted FLOPs). The input
  masks are smooth binary rings, so the stride-4 stem loses little: the myocardium and scar fractions
  of each 4 x 4 patch are linear in the patch, so two of its filters can carry them exactly.
* **Slice vector**: the last ``8 x 8 x 2w`` map is **flattened** and mapped by ``Linear -> ReLU`` to
  ``slice_features`` values. Flattening, not global pooling, because the slices are oriented: *where*
  the scar is (septal from 6 to 10 o'clock after orientation, lateral, inferior ...) is the coronary
  territory, which a global pool would discard.
* **Only real slices are encoded**: padded positions (``slice_mask == 0``) pass only through the
  bias-free stem convolution (zeros in, zeros out; it runs on a view of the whole batch, which is cheaper
  than copying the real slices out of it); everything after the stem, batch-norm statistics included,
  sees the real slices only, and the padded positions' vectors are zero.
* **Slice positions** (``slice_positions``): with ``"spread"`` (default) a patient's n slices are placed
  at positions ``round(i * (max_slices - 1) / (n - 1))`` of the ``max_slices`` slots, so the most basal
  slice is always in slot 0 and the most apical in the last, and an MLP weight means an anatomical level
  whatever the number of slices acquired; ``"packed"`` keeps them in slots ``0 .. n - 1`` as given (the
  literal "padded to 10" reading). The input is always packed (:func:`pad_slices`); the network moves
  the vectors, so the choice is stored with the model (``model.json``), never with the data.
* **Aggregation** (``pooling``): ``"ordered"`` (the paper's reading) concatenates the ``max_slices``
  slot vectors base -> apex, plus the slot mask (so the MLP knows which slots are empty), into the MLP;
  ``"mean"`` / ``"sum"`` / ``"max"`` are order-free variants (masked mean / sum / max over the real slices).
* **MLP head**: the ECGNet head (:class:`~cardiopredict.models.ecgnet.ClassifierHead`): dropout ->
  ``Linear(hidden_size)`` -> ReLU -> dropout -> ``Linear(n_outputs)``; dropout ``(0.25, 0.5)`` by
  default (our choice, not tuned: lighter than ECGNet's 0.8 on the input, because the 32 values per
  slice are already a narrow bottleneck).
* **Channels**: ``in_channels=2`` (myocardium, scar) as in the paper; ``3`` adds the normalised LGE
  image as a third channel (the study's option; off by default).

Options beyond the paper (off by default; docs/BENCHMARKS.md, "Why the slice CNN misses", measured them
on a development cohort): ``stem_stride=2`` (2.5 mm detail, e.g. gaps of 3-5 mm where a gray-zone
channel crosses the core), ``spatial_pooling="mean"`` (how much of each pattern, anywhere in the slice),
``pooling="sum"`` (totals over slices, as scar mass is), ``pixel_features`` (a per-pixel layer kept
inside the myocardium, before the stem: intensity windows such as the gray zone) and
``augment_rotation_deg`` (random in-plane rotation of each training stack). None of them made the CNN
learn the synthetic cohort's risk at n = 235. ``representation="polar"`` (:mod:`cardiopredict.models._polar`)
replaces the encoder: each slice's myocardium is unwrapped to a depth x angle map (endocardium to
epicardium x 96 angles), where a gray-zone channel splitting the core is a gap that a ``3 x 5`` kernel
sees at full resolution; the study offers it as ``scarnet_polar`` (docs/BENCHMARKS.md, section 11).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from cardiopredict.errors import ConfigError, InputError
from cardiopredict.models._polar import PolarSliceEncoder
from cardiopredict.models._registry import register_model
from cardiopredict.models.ecgnet import ClassifierHead

SlicePooling = Literal["ordered", "mean", "sum", "max"]
SlicePositions = Literal["spread", "packed"]
SpatialPooling = Literal["flatten", "mean"]
Representation = Literal["cartesian", "polar"]
_POOLINGS = ("ordered", "mean", "sum", "max")
_POSITIONS = ("spread", "packed")
_SPATIAL_POOLINGS = ("flatten", "mean")
_REPRESENTATIONS = ("cartesian", "polar")
_STEM_STRIDES = (2, 4)
_STEM_STRIDE = 4
_DOWNSAMPLING = 16  # stem x4, then two stride-2 convolutions


def pad_slices(stacks: Sequence[np.ndarray], *, max_slices: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-patient slice arrays into the network's zero-padded input and its slot mask.

    Parameters
    ----------
    stacks : sequence of ndarray, each of shape (n_i, C, H, W)
        Per patient its slices base -> apex (``PatientArrays.inputs``, optionally with the LGE image
        appended as a channel), 1 <= n_i <= ``max_slices``; every patient with the same C, H, W.
    max_slices : int
        Slots per patient (paper: 10).

    Returns
    -------
    slices : float32 ndarray of shape (n_patients, max_slices, C, H, W)
        Patient i's slices in slots ``0 .. n_i - 1`` (packed), zeros after.
    slice_mask : float32 ndarray of shape (n_patients, max_slices)
        1.0 for a real slice, 0.0 for padding.

    Raises
    ------
    InputError
        A patient with no slice or more than ``max_slices``, a stack that is not 4-D, or stacks of
        different channel / image sizes.
    """
    if max_slices < 1:
        raise ConfigError(f"max_slices={max_slices}: give at least 1 slot per patient (paper: 10).")
    if len(stacks) == 0:
        raise InputError("pad_slices: no patients given; pass one (n_slices, C, H, W) array per patient.")
    arrays = [np.asarray(stack, dtype=np.float32) for stack in stacks]
    shape = arrays[0].shape[1:]
    for i, array in enumerate(arrays):
        if array.ndim != 4 or array.shape[1:] != shape:
            raise InputError(
                f"pad_slices: patient {i} has slices of shape {array.shape}; every patient needs "
                f"(n_slices, C, H, W) with the same (C, H, W) {tuple(shape)} as patient 0."
            )
        if not 1 <= len(array) <= max_slices:
            raise InputError(
                f"pad_slices: patient {i} has {len(array)} slices; give 1 to {max_slices} (select slices "
                "with cardiopredict.cmr.preprocess, or raise max_slices)."
            )
    slices = np.zeros((len(arrays), max_slices, *shape), dtype=np.float32)
    mask = np.zeros((len(arrays), max_slices), dtype=np.float32)
    for i, array in enumerate(arrays):
        slices[i, : len(array)] = array
        mask[i, : len(array)] = 1.0
    return slices, mask


class SliceEncoder(nn.Module):
    """Per-slice convolutional encoder (one set of weights for every slice).

    The stem convolution runs on every slot as a view of the batch (no copy); only its output of the
    real slots (4x smaller with ``width=8`` and two channels) is gathered for the rest of the encoder.
    Gathering the input itself would copy ``batch x max_slices x C x 128 x 128`` floats (42 MB at batch
    32), and fresh allocations of that size cost more than the whole encoder on a busy CPU
    (``benchmarks/scarnet_speed.py``). The stem has no bias, so a padded (all-zero) slot stays zero and
    never enters the batch-norm statistics.

    ``stem_stride`` 4 (patchify, two stride-2 convolutions after it) or 2 (three after it): both end on
    an ``image_size / 16`` map, which ``spatial_pooling`` ``"flatten"`` keeps whole (where the scar is)
    or ``"mean"`` averages over the slice (how much of each pattern there is, wherever it lies).

    Shapes
    ------
    input ``(n_slots, in_channels, image_size, image_size)`` and the indices of the real slots
    ``(n_real,)`` -> output ``(n_real, slice_features)``.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        image_size: int,
        width: int,
        slice_features: int,
        stem_stride: int = _STEM_STRIDE,
        spatial_pooling: SpatialPooling = "flatten",
        pixel_features: int = 0,
    ) -> None:
        super().__init__()
        self.pixel = nn.Linear(in_channels, pixel_features) if pixel_features else None
        if pixel_features:
            in_channels = pixel_features
        self.stem = nn.Conv2d(in_channels, width, stem_stride, stride=stem_stride, bias=False)
        layers: list[nn.Module] = [nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        channels = width
        for _ in range(_DOWNSAMPLING.bit_length() - stem_stride.bit_length()):
            layers += [
                nn.Conv2d(channels, 2 * width, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(2 * width),
                nn.ReLU(inplace=True),
            ]
            channels = 2 * width
        if spatial_pooling == "mean":
            layers.append(nn.AdaptiveAvgPool2d(1))
        layers.append(nn.Flatten())
        self.blocks = nn.Sequential(*layers)
        side = 1 if spatial_pooling == "mean" else image_size // _DOWNSAMPLING
        self.project = nn.Sequential(nn.Linear(channels * side * side, slice_features), nn.ReLU())

    def forward(self, slots: Tensor, real: Tensor) -> Tensor:
        if self.pixel is None:
            return self.project(self.blocks(self.stem(slots).index_select(0, real)))
        # per-pixel features of the real slots (an einsum: 2x faster than a 1 x 1 convolution on the
        # CPU), kept inside the myocardium (channel 0)
        images = slots.index_select(0, real)
        pixels = torch.einsum("kc,nchw->nkhw", self.pixel.weight, images)
        pixels = torch.relu(pixels + self.pixel.bias[None, :, None, None]) * images[:, :1]
        return self.project(self.blocks(self.stem(pixels)))


class ScarNet(nn.Module):
    """Sliding slice encoder + MLP over the base -> apex slice vectors (module docstring).

    Parameters
    ----------
    input_key, mask_key : str
        Input dict keys of the slices ``(batch, max_slices, in_channels, image_size, image_size)``
        float32 (zero padded) and of the slot mask ``(batch, max_slices)`` float32 (1 = real slice).
    in_channels, max_slices, image_size, width, slice_features, pooling, slice_positions,
    hidden_size, dropout, n_outputs, stem_stride, spatial_pooling, augment_rotation_deg, pixel_features,
    representation
        See :func:`scarnet`.

    Returns (forward)
    -----------------
    Tensor
        Logits ``(batch,)`` when ``n_outputs == 1`` else ``(batch, n_outputs)``.
    """

    def __init__(
        self,
        *,
        input_key: str = "slices",
        mask_key: str = "slice_mask",
        in_channels: int = 2,
        max_slices: int = 10,
        image_size: int = 128,
        width: int = 8,
        slice_features: int = 32,
        pooling: SlicePooling = "ordered",
        slice_positions: SlicePositions = "spread",
        hidden_size: int = 64,
        dropout: Sequence[float] = (0.25, 0.5),
        n_outputs: int = 1,
        stem_stride: int = _STEM_STRIDE,
        spatial_pooling: SpatialPooling = "flatten",
        augment_rotation_deg: float = 0.0,
        pixel_features: int = 0,
        representation: Representation = "cartesian",
    ) -> None:
        super().__init__()
        _check_options(in_channels, max_slices, image_size, width, slice_features, hidden_size, n_outputs)
        _check_choices(
            pooling=pooling,
            slice_positions=slice_positions,
            stem_stride=stem_stride,
            spatial_pooling=spatial_pooling,
            augment_rotation_deg=augment_rotation_deg,
            pixel_features=pixel_features,
            dropout=dropout,
            keys=(input_key, mask_key),
            representation=representation,
        )
        self.input_key, self.mask_key = input_key, mask_key
        self.input_keys: tuple[str, ...] = (input_key, mask_key)
        self.in_channels, self.max_slices, self.image_size = (
            int(in_channels),
            int(max_slices),
            int(image_size),
        )
        self.pooling, self.slice_positions = pooling, slice_positions
        self.augment_rotation_deg = float(augment_rotation_deg)
        self.encoder: nn.Module
        if representation == "polar":
            self.encoder = PolarSliceEncoder(
                in_channels=self.in_channels, width=2 * width, slice_features=slice_features
            )
        else:
            self.encoder = SliceEncoder(
                in_channels=self.in_channels,
                image_size=self.image_size,
                width=width,
                slice_features=slice_features,
                stem_stride=stem_stride,
                spatial_pooling=spatial_pooling,
                pixel_features=int(pixel_features),
            )
        ordered = pooling == "ordered"
        self.head = ClassifierHead(
            n_features=slice_features * (self.max_slices if ordered else 1),
            n_scalars=self.max_slices if ordered else 0,
            hidden_size=hidden_size,
            dropout=(float(dropout[0]), float(dropout[1])),
            n_outputs=n_outputs,
        )

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        slices, mask = self._checked(inputs)
        if self.training and self.augment_rotation_deg > 0:
            slices = _rotated(slices, self.augment_rotation_deg)
        batch = slices.shape[0]
        real = torch.nonzero(mask.reshape(-1) > 0.5).squeeze(1)
        encoded = self.encoder(slices.reshape(-1, *slices.shape[2:]), real)
        vectors = encoded.new_zeros(batch * self.max_slices, encoded.shape[1])
        vectors = vectors.index_copy(0, real, encoded).reshape(batch, self.max_slices, -1)
        if self.pooling == "sum":
            return self.head(vectors.sum(dim=1))
        if self.pooling == "mean":
            counts = mask.sum(dim=1, keepdim=True).clamp(min=1.0)
            return self.head(vectors.sum(dim=1) / counts)
        if self.pooling == "max":
            empty = (mask < 0.5).unsqueeze(-1)
            return self.head(vectors.masked_fill(empty, float("-inf")).amax(dim=1))
        if self.slice_positions == "spread":
            vectors, mask = _spread(vectors, mask)
        return self.head(vectors.reshape(batch, -1), mask)

    def _checked(self, inputs: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        slices, mask = inputs.get(self.input_key), inputs.get(self.mask_key)
        if slices is None or mask is None:
            raise InputError(
                f"inputs need {self.input_key!r} and {self.mask_key!r}; they hold {sorted(inputs)}. "
                "Build both with cardiopredict.models.scarnet.pad_slices."
            )
        expected = (self.max_slices, self.in_channels, self.image_size, self.image_size)
        if slices.dim() != 5 or tuple(slices.shape[1:]) != expected:
            raise InputError(
                f"input {self.input_key!r} has shape {tuple(slices.shape)}; expected (batch, {expected[0]}, "
                f"{expected[1]}, {expected[2]}, {expected[3]}) (slots, channels, pixels). Preprocess with "
                "the same slice count, channels and crop size as the model."
            )
        if tuple(mask.shape) != (slices.shape[0], self.max_slices):
            raise InputError(
                f"input {self.mask_key!r} has shape {tuple(mask.shape)}; expected "
                f"({slices.shape[0]}, {self.max_slices})."
            )
        if bool((mask.sum(dim=1) < 0.5).any()):
            raise InputError(f"input {self.mask_key!r}: a patient has no real slice (an all-zero mask row).")
        if self.slice_positions == "spread" and bool((mask[:, 1:] > mask[:, :-1]).any()):
            raise InputError(
                f"input {self.mask_key!r} has a padded slot before a real one; the slices must be packed "
                "base -> apex into the first slots (pad_slices does that; the network spreads them)."
            )
        return slices, mask


def _rotated(slices: Tensor, max_deg: float) -> Tensor:
    """Each patient's stack rotated in-plane about the crop centre by one angle drawn from
    U(-max_deg, max_deg) (torch's global generator, which the training loop seeds per fold); bilinear,
    zeros outside, so padded slots stay zero."""
    batch, slots, channels, height, width = slices.shape
    angle = (torch.rand(batch, device=slices.device, dtype=slices.dtype) * 2 - 1) * np.deg2rad(max_deg)
    cos, sin, zero = torch.cos(angle), torch.sin(angle), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    theta = theta.repeat_interleave(slots, dim=0)
    flat = slices.reshape(batch * slots, channels, height, width)
    grid = nn.functional.affine_grid(theta, list(flat.shape), align_corners=False)
    rotated = nn.functional.grid_sample(
        flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return rotated.reshape(slices.shape)


def _spread(vectors: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Move each patient's packed slot vectors to evenly spread slots (base in slot 0, apex in the last).

    Slot i of n real slices goes to ``round(i * (m - 1) / (n - 1))`` (slot 0 when n == 1); the step is
    >= 1, so no two slices share a slot. Padded slots hold zeros and are added to slot 0, changing nothing.
    """
    batch, m, features = vectors.shape
    n = mask.sum(dim=1, keepdim=True)
    slot = torch.arange(m, device=vectors.device, dtype=vectors.dtype).expand(batch, m)
    target = torch.round(slot * (m - 1) / (n - 1).clamp(min=1.0)).long().clamp(max=m - 1)
    target = torch.where(mask > 0.5, target, torch.zeros_like(target))
    spread = vectors.new_zeros(batch, m, features).scatter_add(
        1, target.unsqueeze(-1).expand(-1, -1, features), vectors
    )
    spread_mask = mask.new_zeros(batch, m).scatter_add(1, target, mask)
    return spread, spread_mask


def _check_choices(
    *,
    pooling: str,
    slice_positions: str,
    stem_stride: int,
    spatial_pooling: str,
    augment_rotation_deg: float,
    pixel_features: int,
    dropout: Sequence[float],
    keys: tuple[str, str],
    representation: str = "cartesian",
) -> None:
    if representation not in _REPRESENTATIONS or (representation == "polar" and int(pixel_features)):
        raise ConfigError(
            f"representation={representation!r}, pixel_features={pixel_features}: choose "
            f"{' or '.join(_REPRESENTATIONS)}; the polar encoder has no per-pixel layer (pixel_features=0)."
        )
    if pooling not in _POOLINGS or slice_positions not in _POSITIONS:
        raise ConfigError(
            f"pooling={pooling!r}, slice_positions={slice_positions!r}: choose pooling from "
            f"{', '.join(_POOLINGS)} and slice_positions from {', '.join(_POSITIONS)}."
        )
    if (
        stem_stride not in _STEM_STRIDES
        or spatial_pooling not in _SPATIAL_POOLINGS
        or not 0.0 <= augment_rotation_deg <= 180.0
        or int(pixel_features) < 0
    ):
        raise ConfigError(
            f"stem_stride={stem_stride}, spatial_pooling={spatial_pooling!r}, "
            f"augment_rotation_deg={augment_rotation_deg}, pixel_features={pixel_features}: choose "
            f"stem_stride from {_STEM_STRIDES}, spatial_pooling from {', '.join(_SPATIAL_POOLINGS)}, a "
            "rotation in [0, 180] degrees and pixel_features >= 0 (0: off)."
        )
    if len(dropout) != 2 or not all(0.0 <= float(p) < 1.0 for p in dropout):
        raise ConfigError(f"dropout={list(dropout)}: give two rates in [0, 1), e.g. (0.25, 0.5).")
    if keys[0] == keys[1]:
        raise ConfigError(f"input_key and mask_key are both {keys[0]!r}; give two distinct names.")


def _check_options(
    in_channels: int,
    max_slices: int,
    image_size: int,
    width: int,
    slice_features: int,
    hidden_size: int,
    n_outputs: int,
) -> None:
    values = {
        "in_channels": in_channels,
        "max_slices": max_slices,
        "width": width,
        "slice_features": slice_features,
        "hidden_size": hidden_size,
        "n_outputs": n_outputs,
    }
    bad = {name: value for name, value in values.items() if int(value) < 1}
    if bad:
        raise ConfigError(f"{bad}: each of {sorted(values)} must be >= 1.")
    if image_size < _DOWNSAMPLING or image_size % _DOWNSAMPLING:
        raise ConfigError(
            f"image_size={image_size}: the encoder downsamples by {_DOWNSAMPLING}; use a multiple of "
            f"{_DOWNSAMPLING} (the preprocessing crops 128 x 128)."
        )


@register_model("scarnet")
def scarnet(
    *,
    input_key: str = "slices",
    mask_key: str = "slice_mask",
    in_channels: int = 2,
    max_slices: int = 10,
    image_size: int = 128,
    width: int = 8,
    slice_features: int = 32,
    pooling: SlicePooling = "ordered",
    slice_positions: SlicePositions = "spread",
    hidden_size: int = 64,
    dropout: Sequence[float] = (0.25, 0.5),
    n_outputs: int = 1,
    stem_stride: int = _STEM_STRIDE,
    spatial_pooling: SpatialPooling = "flatten",
    augment_rotation_deg: float = 0.0,
    pixel_features: int = 0,
    representation: Representation = "cartesian",
) -> ScarNet:
    """Build :class:`ScarNet` (registry name ``"scarnet"``).

    Parameters
    ----------
    input_key : str
        Input dict key of the slices ``(batch, max_slices, in_channels, image_size, image_size)``
        float32, zero padded (:func:`pad_slices`).
    mask_key : str
        Input dict key of the slot mask ``(batch, max_slices)`` float32, 1.0 = real slice.
    in_channels : int
        2: (myocardium, scar) masks as in the paper; 3: plus the normalised LGE image.
    max_slices : int
        Slots per patient (paper: up to 10).
    image_size : int
        Side of a slice, pixels (128 at 1.25 mm from the preprocessing); a multiple of 16.
    width : int
        Channels of the stem; the two later convolutions have ``2 * width`` (not given by the paper;
        default 8, chosen for speed — module docstring).
    slice_features : int
        Length of each slice's vector (not given; default 32).
    pooling : {"ordered", "mean", "sum", "max"}
        ``"ordered"``: the slot vectors base -> apex into the MLP (paper); ``"mean"`` / ``"sum"`` /
        ``"max"``: order-free masked pooling over the real slices.
    slice_positions : {"spread", "packed"}
        Slots of the slice vectors for ``"ordered"`` pooling (module docstring); ignored otherwise.
    hidden_size : int
        Hidden width of the MLP (not given; default 64).
    dropout : (float, float)
        Dropout before and after the hidden layer.
    n_outputs : int
        1: binary, one logit per patient; k > 1: k class logits.
    stem_stride : {4, 2}
        Stride (= kernel) of the stem: 4 patchifies (5 mm per feature pixel), 2 keeps 2.5 mm detail
        such as gaps of 3-5 mm in a scar (one more stride-2 convolution follows, ~3x the FLOPs).
    spatial_pooling : {"flatten", "mean"}
        ``"flatten"``: the slice vector sees where each pattern lies (coronary territory);
        ``"mean"``: it sees how much of each pattern there is, anywhere in the slice.
    augment_rotation_deg : float
        While training, rotate each patient's stack by a random angle up to this many degrees
        (0: off); never at evaluation.
    pixel_features : int
        0: off; k > 0: a 1 x 1 convolution to k channels with ReLU before the stem, multiplied by the
        myocardium channel (so padding and everything outside the myocardium stay zero).
    representation : {"cartesian", "polar"}
        ``"cartesian"``: the encoder reads the 128 x 128 slice (paper). ``"polar"``: each slice is first
        unwrapped to a depth x angle map of its myocardium (12 depths endocardium -> epicardium, 96
        angles; channels: scar, the LGE when given, wall thickness), then two ``3 x 5`` convolutions of
        ``2 * width`` channels and global mean + max pooling (:mod:`cardiopredict.models._polar`);
        ``stem_stride`` and ``spatial_pooling`` do not apply.
    """
    return ScarNet(
        input_key=input_key,
        mask_key=mask_key,
        in_channels=in_channels,
        max_slices=max_slices,
        image_size=image_size,
        width=width,
        slice_features=slice_features,
        pooling=pooling,
        slice_positions=slice_positions,
        hidden_size=hidden_size,
        dropout=dropout,
        n_outputs=n_outputs,
        stem_stride=stem_stride,
        spatial_pooling=spatial_pooling,
        augment_rotation_deg=augment_rotation_deg,
        pixel_features=pixel_features,
        representation=representation,
    )
