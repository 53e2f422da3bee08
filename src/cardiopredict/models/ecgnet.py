"""ECGNet and ECGCompositeNet (paper section 2.1).

The paper fixes: per-lead feature extraction by three convolutional blocks (convolution → batch
normalisation → ReLU → max-pooling) with 32, 64 and 128 channels; the leads' features combined by fully
connected layers with dropout 0.8 then 0.5; one sigmoid output (we return the logit; the loss applies
the sigmoid). ECGCompositeNet runs one such network per ECG (pre- and post-CRT) and fuses them before the
fully connected head.

What the paper leaves open, and what we chose
--------------------------------------------
* **Weight sharing across leads.** "Per-lead feature extraction" with a ``(12, 250, 1)`` input reads as
  one small 1-channel network applied to every lead. We share its weights across the 12 leads (the same
  filters for every lead; 12x fewer convolution weights, which matters with ~150 training patients)
  and implement it as one convolution over all leads at once: ``Conv2d`` with ``(1, k)`` kernels on
  ``(batch, 1, 12, T)`` (never 12 separate convolutions). The equivalent ``Conv1d`` with the leads
  folded into the batch, ``(batch * 12, 1, T)``, computes the same function and was 2-7 % slower on
  CPU (``benchmarks/train_speed.py``, ``docs/BENCHMARKS.md``), and 1.7x slower than the Conv2d in the
  channels-last layout the trainer uses (:attr:`ECGNet.memory_format`; 2026-12-07).
* **Kernel size**: 7 samples (7 ms at 1000 Hz), ``padding="same"``.
* **Max-pooling size: 4** in each block (speed-motivated). The paper gives no size; 2 is the common
  default. Pooling by 4 shrinks the feature maps of blocks 2 and 3, where nearly all the arithmetic is,
  so a training step costs 2.8x less than with 2 (35 vs 99 ms for batch 32 on 2 cores,
  ``docs/BENCHMARKS.md``), which is what lets the paper's protocol (5 folds x 3 input modes, <= 100
  epochs) fit in minutes on 2 CPU cores. On the synthetic CRT cohort (n = 195, 5 folds, demo profile)
  it did not cost AUC: pre-CRT 0.71 (pool 4) vs 0.70 (pool 3) vs 0.70 (pool 2); combined, mean of 3
  seeds, 0.79 (pool 4) vs 0.77 (pool 2) — within seed-to-seed noise (~±0.03); the paper protocol gave
  pre 0.75, post 0.73, combined 0.77 with pool 4. The last block's receptive field is 190 samples
  (about a whole broad QRS). ``pool_size=2`` gives the conventional network.
* **Per-lead feature vector**: the last block's map is **flattened** (``pooling="flatten"``,
  ``128 x 3`` values per lead for a 250-sample window) so the head still sees *where* in the window a
  feature occurs (the window is anchored 40 ms before QRS onset, so timing encodes QRS width and the
  conduction sequence). Global average pooling (``"avg"``; ``"max"`` also available) lost ~0.07 AUC
  on the pre-CRT input of the synthetic cohort (0.62-0.63 vs 0.69-0.70, kernel 3 and 7, pool 2).
* **Head**: dropout 0.8 → ``Linear(features, 128)`` → ReLU → dropout 0.5 → ``Linear(128, n_outputs)``.
  The hidden size (128) is our choice. Convolutions have no bias (batch norm follows them).
* **Composite fusion**: the trunks' feature vectors are concatenated, then the same head. Optional
  scalar inputs (e.g. RR-interval statistics) join after the 0.8 dropout, standardised by buffers
  (mean, SD) fitted on the training rows only (:meth:`ECGCompositeNet.fit_preprocessing`) and stored in
  the weights file, so prediction reproduces them; a missing scalar (NaN) becomes the training mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from cardiopredict.errors import ConfigError, InputError
from cardiopredict.models._registry import register_model

Pooling = Literal["flatten", "avg", "max"]
_POOLINGS = ("flatten", "avg", "max")


class LeadEncoder(nn.Module):
    """Per-lead convolutional feature extractor, one set of weights shared by all leads.

    Parameters
    ----------
    n_samples : int
        Window length T (samples).
    channels : sequence of int
        Output channels of the convolutional blocks (paper: 32, 64, 128).
    kernel_size : int
        Convolution kernel length (samples), ``padding="same"``.
    pool_size : int
        Max-pooling size (and stride) after each block.
    pooling : {"flatten", "avg", "max"}
        How the last feature map of each lead becomes a vector: flattened (keeps timing) or pooled
        globally over time.

    Shapes
    ------
    input ``(batch, n_leads, n_samples)`` → output ``(batch, n_leads * n_features)``, lead-major.

    The leads are rows of a one-channel image ``(batch, 1, n_leads, n_samples)`` and every kernel is
    ``(1, kernel_size)``, so each lead is filtered on its own with the same weights (batch-norm
    statistics are shared too). This is the same function as a ``Conv1d`` over
    ``(batch * n_leads, 1, n_samples)``, and was 2-7 % faster on CPU (``docs/BENCHMARKS.md``).
    """

    def __init__(
        self,
        *,
        n_samples: int,
        channels: Sequence[int],
        kernel_size: int,
        pool_size: int,
        pooling: Pooling,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels, length = 1, int(n_samples)
        for out_channels in channels:
            layers += [
                nn.Conv2d(in_channels, out_channels, (1, kernel_size), padding="same", bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool2d((1, pool_size)),
            ]
            in_channels, length = out_channels, length // pool_size
        if length < 1:
            raise ConfigError(
                f"n_samples={n_samples} is too short for {len(channels)} blocks of max-pooling by "
                f"{pool_size}; use a longer window, fewer channels entries or pool_size=1."
            )
        self.blocks = nn.Sequential(*layers)
        self.pooling = pooling
        self.out_length = length
        self.n_features = in_channels * (length if pooling == "flatten" else 1)

    def forward(self, x: Tensor) -> Tensor:
        batch, n_leads, _ = x.shape
        features = self.blocks(x.unsqueeze(1))  # (batch, channels, n_leads, time)
        if self.pooling == "avg":
            features = features.mean(dim=-1, keepdim=True)
        elif self.pooling == "max":
            features = features.amax(dim=-1, keepdim=True)
        # lead-major order: the features of lead 0, then lead 1, ...
        return features.transpose(1, 2).reshape(batch, n_leads * self.n_features)


class ClassifierHead(nn.Module):
    """Dropout → Linear → ReLU → dropout → Linear; optional scalars join after the first dropout.

    Shapes
    ------
    features ``(batch, n_features)``, scalars ``(batch, n_scalars)`` → logits ``(batch,)`` when
    ``n_outputs == 1`` else ``(batch, n_outputs)``.
    """

    def __init__(
        self,
        *,
        n_features: int,
        n_scalars: int,
        hidden_size: int,
        dropout: tuple[float, float],
        n_outputs: int,
    ) -> None:
        super().__init__()
        self.dropout_in = nn.Dropout(dropout[0])
        self.hidden = nn.Linear(n_features + n_scalars, hidden_size)
        self.dropout_hidden = nn.Dropout(dropout[1])
        self.out = nn.Linear(hidden_size, n_outputs)
        self.n_outputs = n_outputs

    def forward(self, features: Tensor, scalars: Tensor | None = None) -> Tensor:
        features = self.dropout_in(features)
        if scalars is not None:
            features = torch.cat([features, scalars], dim=1)
        hidden = self.dropout_hidden(torch.relu(self.hidden(features)))
        logits = self.out(hidden)
        return logits.squeeze(-1) if self.n_outputs == 1 else logits


class ECGNet(nn.Module):
    """ECGNet: shared per-lead convolutional blocks, then a fully connected head (module docstring).

    Parameters
    ----------
    input_key : str
        Key of the input dict holding the ECG windows.
    n_leads, n_samples : int
        Input shape ``(batch, n_leads, n_samples)``, float32 (mV).
    n_outputs : int
        1 for binary classification (one logit), else the number of classes.
    channels, kernel_size, pool_size, pooling, hidden_size, dropout
        See :func:`ecgnet`.

    Returns (forward)
    -----------------
    Tensor
        Logits ``(batch,)`` when ``n_outputs == 1`` else ``(batch, n_outputs)``.
    """

    memory_format: ClassVar[torch.memory_format] = torch.channels_last
    """The layout the trainer puts the weights in (:func:`cardiopredict.training.run_cv`): the same function,
    1.4-1.7x faster training steps on CPU in channels-last (docs/BENCHMARKS.md, section 4)."""

    def __init__(
        self,
        *,
        input_key: str = "ecg",
        n_leads: int = 12,
        n_samples: int = 250,
        n_outputs: int = 1,
        channels: Sequence[int] = (32, 64, 128),
        kernel_size: int = 7,
        pool_size: int = 4,
        pooling: Pooling = "flatten",
        hidden_size: int = 128,
        dropout: Sequence[float] = (0.8, 0.5),
    ) -> None:
        super().__init__()
        _check_options(n_leads, n_outputs, channels, kernel_size, pool_size, pooling, hidden_size, dropout)
        self.input_key = input_key
        self.input_keys: tuple[str, ...] = (input_key,)
        self.n_leads, self.n_samples = int(n_leads), int(n_samples)
        self.encoder = LeadEncoder(
            n_samples=self.n_samples,
            channels=tuple(channels),
            kernel_size=kernel_size,
            pool_size=pool_size,
            pooling=pooling,
        )
        self.head = ClassifierHead(
            n_features=self.n_leads * self.encoder.n_features,
            n_scalars=0,
            hidden_size=hidden_size,
            dropout=(float(dropout[0]), float(dropout[1])),
            n_outputs=n_outputs,
        )

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        x = _get_ecg(inputs, self.input_key, self.n_leads, self.n_samples)
        return self.head(self.encoder(x))


class ECGCompositeNet(nn.Module):
    """Several ECG windows (e.g. pre- and post-CRT), one trunk each, fused before the head.

    Parameters
    ----------
    input_keys : sequence of str
        One key per ECG input; each gets its own :class:`LeadEncoder` (separate weights).
    n_samples : int or sequence of int
        Window length per key (one int for all, or one per key, e.g. ``(250, 500)`` for QRS + RR).
    n_leads : int
        Leads per window.
    n_scalars : int
        Number of scalar inputs joined at the head (0: none).
    scalars_key : str, optional
        Input key of the scalars ``(batch, n_scalars)`` float32; required when ``n_scalars > 0``.
    n_outputs : int
        1 for binary (one logit), else the number of classes.
    channels, kernel_size, pool_size, pooling, hidden_size, dropout
        As for :class:`ECGNet`, shared by all trunks.
    """

    memory_format: ClassVar[torch.memory_format] = torch.channels_last
    """The layout the trainer puts the weights in (:func:`cardiopredict.training.run_cv`): the same function,
    1.4-1.7x faster training steps on CPU in channels-last (docs/BENCHMARKS.md, section 4)."""

    def __init__(
        self,
        *,
        input_keys: Sequence[str] = ("pre", "post"),
        n_samples: int | Sequence[int] = 250,
        n_leads: int = 12,
        n_scalars: int = 0,
        scalars_key: str | None = None,
        n_outputs: int = 1,
        channels: Sequence[int] = (32, 64, 128),
        kernel_size: int = 7,
        pool_size: int = 4,
        pooling: Pooling = "flatten",
        hidden_size: int = 128,
        dropout: Sequence[float] = (0.8, 0.5),
    ) -> None:
        super().__init__()
        _check_options(n_leads, n_outputs, channels, kernel_size, pool_size, pooling, hidden_size, dropout)
        keys, lengths = _composite_inputs(input_keys, n_samples, n_scalars, scalars_key)
        self.ecg_keys = keys
        self.n_leads = int(n_leads)
        self.n_samples = lengths
        self.n_scalars = int(n_scalars)
        self.scalars_key = scalars_key if n_scalars > 0 else None
        self.input_keys: tuple[str, ...] = keys + ((self.scalars_key,) if self.scalars_key else ())
        self.encoders = nn.ModuleDict(
            {
                key: LeadEncoder(
                    n_samples=length,
                    channels=tuple(channels),
                    kernel_size=kernel_size,
                    pool_size=pool_size,
                    pooling=pooling,
                )
                for key, length in zip(keys, lengths, strict=True)
            }
        )
        self.register_buffer("scalar_mean", torch.zeros(self.n_scalars))
        self.register_buffer("scalar_scale", torch.ones(self.n_scalars))
        n_features = sum(self.n_leads * encoder.n_features for encoder in self.encoders.values())
        self.head = ClassifierHead(
            n_features=n_features,
            n_scalars=self.n_scalars,
            hidden_size=hidden_size,
            dropout=(float(dropout[0]), float(dropout[1])),
            n_outputs=n_outputs,
        )

    def fit_preprocessing(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Fit the scalar standardisation on training rows (NaN ignored); no-op without scalars.

        Parameters
        ----------
        inputs : mapping of str to ndarray
            The training rows only; ``inputs[scalars_key]`` of shape ``(n, n_scalars)``.
        """
        if not self.scalars_key:
            return
        scalars = np.asarray(inputs[self.scalars_key], dtype=np.float64)
        with np.errstate(all="ignore"):
            mean = np.nanmean(scalars, axis=0) if len(scalars) else np.zeros(self.n_scalars)
            scale = np.nanstd(scalars, axis=0) if len(scalars) else np.ones(self.n_scalars)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        scale = np.where(np.isfinite(scale) & (scale > 1e-12), scale, 1.0)
        self.scalar_mean.copy_(torch.as_tensor(mean, dtype=self.scalar_mean.dtype))
        self.scalar_scale.copy_(torch.as_tensor(scale, dtype=self.scalar_scale.dtype))

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        features = [
            self.encoders[key](_get_ecg(inputs, key, self.n_leads, length))
            for key, length in zip(self.ecg_keys, self.n_samples, strict=True)
        ]
        scalars = None
        if self.scalars_key:
            raw = inputs.get(self.scalars_key)
            if raw is None or raw.dim() != 2 or raw.shape[1] != self.n_scalars:
                shape = None if raw is None else tuple(raw.shape)
                raise InputError(
                    f"input {self.scalars_key!r} has shape {shape}; expected (batch, {self.n_scalars})."
                )
            scalars = torch.nan_to_num((raw - self.scalar_mean) / self.scalar_scale, nan=0.0)
        return self.head(torch.cat(features, dim=1), scalars)


def _get_ecg(inputs: Mapping[str, Tensor], key: str, n_leads: int, n_samples: int) -> Tensor:
    x = inputs.get(key)
    if x is None:
        raise InputError(f"input {key!r} is missing; the inputs hold {sorted(inputs)}.")
    if x.dim() != 3 or x.shape[1] != n_leads or x.shape[2] != n_samples:
        raise InputError(
            f"input {key!r} has shape {tuple(x.shape)}; expected (batch, {n_leads}, {n_samples}). "
            "Build the windows with the same window configuration as the model."
        )
    return x


def _composite_inputs(
    input_keys: Sequence[str], n_samples: int | Sequence[int], n_scalars: int, scalars_key: str | None
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Check the inputs of :class:`ECGCompositeNet`; return its ECG keys and the window length of each."""
    keys = tuple(str(key) for key in input_keys)
    if not keys or len(set(keys)) != len(keys):
        raise ConfigError(f"input_keys={list(keys)}: give one or more distinct input names.")
    lengths = (
        (int(n_samples),) * len(keys)
        if isinstance(n_samples, int | np.integer)
        else tuple(int(n) for n in n_samples)
    )
    if len(lengths) != len(keys):
        raise ConfigError(
            f"n_samples={list(lengths)} has {len(lengths)} entries for {len(keys)} input_keys "
            f"{list(keys)}; give one int for all keys or one per key."
        )
    if n_scalars < 0 or (n_scalars > 0 and not scalars_key) or (scalars_key in keys):
        raise ConfigError(
            f"n_scalars={n_scalars}, scalars_key={scalars_key!r}: scalars need a key of their own, "
            f"distinct from input_keys {list(keys)} (or set n_scalars=0)."
        )
    return keys, lengths


def _check_options(
    n_leads: int,
    n_outputs: int,
    channels: Sequence[int],
    kernel_size: int,
    pool_size: int,
    pooling: str,
    hidden_size: int,
    dropout: Sequence[float],
) -> None:
    if n_leads < 1 or n_outputs < 1 or hidden_size < 1 or kernel_size < 1 or pool_size < 1:
        raise ConfigError(
            f"n_leads={n_leads}, n_outputs={n_outputs}, hidden_size={hidden_size}, "
            f"kernel_size={kernel_size}, pool_size={pool_size}: each must be >= 1."
        )
    if not channels or any(int(c) < 1 for c in channels):
        raise ConfigError(f"channels={list(channels)}: give one or more positive channel counts.")
    if pooling not in _POOLINGS:
        raise ConfigError(f"pooling={pooling!r}: choose one of {', '.join(_POOLINGS)}.")
    if len(dropout) != 2 or not all(0.0 <= float(p) < 1.0 for p in dropout):
        raise ConfigError(f"dropout={list(dropout)}: give two rates in [0, 1), e.g. (0.8, 0.5).")


@register_model("ecgnet")
def ecgnet(
    *,
    input_key: str = "ecg",
    n_leads: int = 12,
    n_samples: int = 250,
    n_outputs: int = 1,
    channels: Sequence[int] = (32, 64, 128),
    kernel_size: int = 7,
    pool_size: int = 4,
    pooling: Pooling = "flatten",
    hidden_size: int = 128,
    dropout: Sequence[float] = (0.8, 0.5),
) -> ECGNet:
    """Build :class:`ECGNet` (registry name ``"ecgnet"``).

    Parameters
    ----------
    input_key : str
        Input dict key of the ECG windows ``(batch, n_leads, n_samples)``.
    n_leads, n_samples : int
        Input shape.
    n_outputs : int
        1: binary, one logit per patient; k > 1: k class logits.
    channels : sequence of int
        Channels of the convolutional blocks (paper: 32, 64, 128).
    kernel_size : int
        Convolution length in samples (not given by the paper; default 7).
    pool_size : int
        Max-pooling size after each block (not given; default 4, chosen for speed — module docstring).
    pooling : {"flatten", "avg", "max"}
        Per-lead feature vector from the last block (not given; default flatten).
    hidden_size : int
        Width of the hidden fully connected layer (not given; default 128).
    dropout : (float, float)
        Dropout before and after the hidden layer (paper: 0.8, 0.5).
    """
    return ECGNet(
        input_key=input_key,
        n_leads=n_leads,
        n_samples=n_samples,
        n_outputs=n_outputs,
        channels=channels,
        kernel_size=kernel_size,
        pool_size=pool_size,
        pooling=pooling,
        hidden_size=hidden_size,
        dropout=dropout,
    )


@register_model("ecgcomposite")
def ecgcomposite(
    *,
    input_keys: Sequence[str] = ("pre", "post"),
    n_samples: int | Sequence[int] = 250,
    n_leads: int = 12,
    n_scalars: int = 0,
    scalars_key: str | None = None,
    n_outputs: int = 1,
    channels: Sequence[int] = (32, 64, 128),
    kernel_size: int = 7,
    pool_size: int = 4,
    pooling: Pooling = "flatten",
    hidden_size: int = 128,
    dropout: Sequence[float] = (0.8, 0.5),
) -> ECGCompositeNet:
    """Build :class:`ECGCompositeNet` (registry name ``"ecgcomposite"``); options as :func:`ecgnet` plus
    ``input_keys``, per-key ``n_samples``, ``n_scalars`` and ``scalars_key``."""
    return ECGCompositeNet(
        input_keys=input_keys,
        n_samples=n_samples,
        n_leads=n_leads,
        n_scalars=n_scalars,
        scalars_key=scalars_key,
        n_outputs=n_outputs,
        channels=channels,
        kernel_size=kernel_size,
        pool_size=pool_size,
        pooling=pooling,
        hidden_size=hidden_size,
        dropout=dropout,
    )
