"""Frozen, validated configuration dataclasses holding the paper's defaults.

Defaults live here and in function signatures, nowhere else. Each study adds its own dataclass
below the shared ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from cardiopredict.errors import ConfigError

EarlyStopping = Literal["inner", "outer", "none"]


@dataclass(frozen=True)
class TrainingConfig:
    """Cross-validated training, as in the paper (section 2.1).

    Parameters
    ----------
    n_folds : int
        Stratified k-fold by patient (paper: 5).
    learning_rate : float
        Adam learning rate (paper: 1e-4).
    batch_size : int
        Paper: 32.
    max_epochs : int
        Paper: 100.
    patience : int
        Early-stopping patience in epochs (paper: 10).
    early_stopping : {"inner", "outer", "none"}
        ``"inner"`` watches a validation split carved from the training folds (honest);
        ``"outer"`` watches the held-out fold itself, as the paper did, which flatters the AUC
        and is labelled as such in every output; ``"none"`` trains for ``max_epochs``.
    inner_val_fraction : float
        Share of the training patients held out for inner early stopping.
    seed : int
        Seeds fold assignment, weight initialisation and batch order.
    weight_averaging : float
        Exponential moving average of the weights, decay per epoch (0: off, the paper). When on, the
        averaged weights are the ones validated, early-stopped on and kept; training goes on from the
        raw weights. Smooths the noisy validation signal of small cohorts.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"`` (GPU when available).
    """

    n_folds: int = 5
    learning_rate: float = 1e-4
    batch_size: int = 32
    max_epochs: int = 100
    patience: int = 10
    early_stopping: EarlyStopping = "inner"
    inner_val_fraction: float = 0.2
    seed: int = 0
    weight_averaging: float = 0.0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not 0 <= self.weight_averaging < 1:
            raise ConfigError(
                f"weight_averaging={self.weight_averaging}: use a decay in [0, 1), e.g. 0.8 (0 = off)."
            )
        if self.n_folds < 2:
            raise ConfigError(f"n_folds={self.n_folds}: cross-validation needs at least 2 folds.")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"learning_rate={self.learning_rate}: use a value in (0, 1), e.g. 1e-4.")
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ConfigError(
                f"batch_size={self.batch_size}, max_epochs={self.max_epochs}, "
                f"patience={self.patience}: each must be >= 1."
            )
        if self.early_stopping not in ("inner", "outer", "none"):
            raise ConfigError(
                f"early_stopping={self.early_stopping!r}: choose 'inner' (honest), "
                "'outer' (the paper's optimistic variant) or 'none'."
            )
        if not 0.05 <= self.inner_val_fraction <= 0.5:
            raise ConfigError(
                f"inner_val_fraction={self.inner_val_fraction}: use a value between 0.05 and 0.5."
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form for ``config.json`` and ``model.json``."""
        return asdict(self)


@dataclass(frozen=True)
class ECGWindowConfig:
    """How each ECG becomes model input (see :mod:`cardiopredict.ecg.windows`).

    Parameters
    ----------
    qrs_samples : int
        Length of the QRS window (paper: 250).
    qrs_mode : {"fixed", "stretch"}
        ``"fixed"``: 250 ms at 1000 Hz from 40 ms before the global QRS onset, so QRS width stays
        visible; ``"stretch"``: onset→offset resampled to ``qrs_samples`` points.
    rr_samples : int
        Length of the RR-extended window (cardiomyopathy study).
    normalize : {"none", "zscore", "maxabs"}
        ``"none"`` keeps millivolts: QRS voltage is clinical information (LVH, low voltage), and the
        network's batch normalisation handles scale. Nothing here is fitted on data.
    quality : {"exclude", "keep-flagged"}
        What a study does with an ECG whose reader flagged a lead (flat, clipped, NaN run, huge) or the
        record (implausible sampling rate; :func:`cardiopredict.ecg.quality_issues`): ``"exclude"`` the
        patient with the flags as the reason, or ``"keep-flagged"`` (the flags go to ``cohort.csv``,
        measurements on flagged leads are not assessable). ``docs/RELIABILITY.md``.
    """

    qrs_samples: int = 250
    qrs_mode: Literal["fixed", "stretch"] = "fixed"
    rr_samples: int = 500
    normalize: Literal["none", "zscore", "maxabs"] = "none"
    quality: Literal["exclude", "keep-flagged"] = "exclude"

    def __post_init__(self) -> None:
        if self.qrs_samples < 32 or self.rr_samples < 64:
            raise ConfigError(
                f"qrs_samples={self.qrs_samples}, rr_samples={self.rr_samples}: windows this short "
                "cannot hold a QRS complex; use >= 32 and >= 64."
            )
        if self.qrs_mode not in ("fixed", "stretch"):
            raise ConfigError(f"qrs_mode={self.qrs_mode!r}: choose 'fixed' or 'stretch'.")
        if self.normalize not in ("none", "zscore", "maxabs"):
            raise ConfigError(f"normalize={self.normalize!r}: choose 'none', 'zscore' or 'maxabs'.")
        if self.quality not in ("exclude", "keep-flagged"):
            raise ConfigError(f"quality={self.quality!r}: choose 'exclude' or 'keep-flagged'.")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form; stored with every model so prediction rebuilds the same input."""
        return asdict(self)


CRT_INPUTS = ("pre", "post", "combined")
CARDIOMYOPATHY_TASKS = ("gen-vs-myo", "gen-vs-sarc", "myo-vs-sarc", "3class")
CARDIOMYOPATHY_INPUTS = ("qrs", "rr")


@dataclass(frozen=True)
class StudyProfile:
    """A named training protocol: the paper's (``"paper"``) or a shorter one for demos and tests.

    The profile name is written to ``config.json`` and the report so every number says which
    protocol produced it.
    """

    name: str
    training: TrainingConfig
    bootstrap: int = 2000
    learning_rate_fixed: bool = False
    """True when the learning rate was chosen for the run (``--learning-rate``): it then applies to every
    model, including one that brings its own (``ModelSpec.learning_rate`` of the study engine)."""

    @classmethod
    def paper(
        cls, *, seed: int = 0, n_folds: int = 5, max_epochs: int = 100, device: str = "cpu"
    ) -> StudyProfile:
        """Paper protocol: 5 folds, Adam 1e-4, batch 32, <= 100 epochs, patience 10 (inner split)."""
        training = TrainingConfig(n_folds=n_folds, max_epochs=max_epochs, seed=seed, device=device)
        return cls(name="paper", training=training)

    @classmethod
    def demo(cls, *, seed: int = 0, device: str = "cpu") -> StudyProfile:
        """Demo protocol: the paper's 5 folds and batch 32, fewer epochs and a larger learning rate so
        ``make demo`` (both ECG studies) fits in about 10 minutes on 2 CPU cores. Labelled ``demo``."""
        training = TrainingConfig(
            n_folds=5, max_epochs=40, patience=8, learning_rate=1e-3, seed=seed, device=device
        )
        return cls(name="demo", training=training, bootstrap=1000)

    @classmethod
    def quick(cls, *, seed: int = 0, device: str = "cpu") -> StudyProfile:
        """For tests and smoke runs: 2 folds, a few epochs. Its AUCs mean nothing clinically."""
        training = TrainingConfig(
            n_folds=2, max_epochs=4, patience=2, learning_rate=1e-3, seed=seed, device=device
        )
        return cls(name="quick", training=training, bootstrap=200)

    def with_learning_rate(self, learning_rate: float | None) -> StudyProfile:
        """This protocol at a learning rate chosen for the run, for every model: renamed
        ``<name>-lr<value>`` when it differs from the protocol's, so that no result of it passes for the
        named protocol; ``self`` when ``learning_rate`` is None."""
        if learning_rate is None:
            return self
        if learning_rate == self.training.learning_rate:
            return replace(self, learning_rate_fixed=True)
        training = replace(self.training, learning_rate=learning_rate)
        name = f"{self.name}-lr{learning_rate:g}"
        return replace(self, name=name, training=training, learning_rate_fixed=True)

    def with_weight_averaging(self, decay: float | None) -> StudyProfile:
        """This protocol with a moving average of the weights (:class:`TrainingConfig`
        ``weight_averaging``), renamed ``<name>-ema<decay>``; ``self`` when ``decay`` is None or unchanged."""
        if decay is None or decay == self.training.weight_averaging:
            return self
        training = replace(self.training, weight_averaging=decay)
        return replace(self, name=f"{self.name}-ema{decay:g}", training=training)

    def training_for(self, learning_rate: float | None) -> TrainingConfig:
        """The training settings of a model that brings its own ``learning_rate`` (None: the
        protocol's); a learning rate fixed for the run (:meth:`with_learning_rate`) wins."""
        if learning_rate is None or self.learning_rate_fixed:
            return self.training
        return replace(self.training, learning_rate=learning_rate)


@dataclass(frozen=True)
class LGEInputConfig:
    """How each LGE study becomes the VA model's input (see :mod:`cardiopredict.cmr.preprocess`).

    Parameters
    ----------
    scar : str
        Scar method (:func:`cardiopredict.cmr.scar.scar_method`): ``"nsd"`` (5 SD above remote, the
        preprocessing default; Dice 0.95 against the synthetic phantoms' true scar, where
        ``"hysteresis"`` reaches 0.88 because its opening erases thin core beside gray-zone channels),
        ``"hysteresis"`` (FWHM hysteresis, the best threshold rule on the MyoPS experts), ``"fwhm"``,
        ``"labels"`` (the label map's scar) or ``"learned:DIR"``. The scar channel never comes from
        truth unless ``"labels"`` is chosen on purpose.
    size : int
        Crop side, pixels (paper: 128).
    target_spacing_mm : float
        Pixel size after resampling, mm (1.25 mm: 128 px = 160 mm).
    min_slices, max_slices : int
        Paper: 3–10 short-axis slices per patient.
    lge_channel : bool
        Add the normalised LGE image as a third input channel (off: the paper used two).
    pixel_spacing_mm : float, optional
        Assumed in-plane spacing for files that carry none (EMIDEC PNG); recorded in every output.
    slice_thickness_mm : float, optional
        Assumed slice thickness for files that carry none (PNG slices); recorded in every output.
    orient : bool
        Rotate each slice so the RV insertion point is at 6 o'clock (paper). ``False`` keeps the
        acquired in-plane orientation, for series without an RV label or insertion points (EMIDEC).
    """

    scar: str = "nsd"
    size: int = 128
    target_spacing_mm: float = 1.25
    min_slices: int = 3
    max_slices: int = 10
    lge_channel: bool = False
    pixel_spacing_mm: float | None = None
    slice_thickness_mm: float | None = None
    orient: bool = True

    def __post_init__(self) -> None:
        if not 3 <= self.min_slices <= self.max_slices:
            raise ConfigError(
                f"min_slices={self.min_slices}, max_slices={self.max_slices}: "
                "need 3 <= min_slices <= max_slices."
            )
        if self.size < 32 or self.size % 16 or not 0.3 <= self.target_spacing_mm <= 5:
            raise ConfigError(
                f"size={self.size}, target_spacing_mm={self.target_spacing_mm}: use a multiple of 16 >= 32 "
                "and a spacing between 0.3 and 5 mm."
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form; stored with every model so prediction rebuilds the same input."""
        return asdict(self)


VA_MODELS = ("scarnet", "scarnet_pooled", "scarnet_polar")
