"""Frozen, validated configuration dataclasses holding the paper's defaults.

Defaults live here and in function signatures, nowhere else. Each study adds its own dataclass
below the shared ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
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
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.n_folds < 2:
            raise ConfigError(f"n_folds={self.n_folds}: cross-validation needs at least 2 folds.")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(
                f"learning_rate={self.learning_rate}: use a value in (0, 1), e.g. 1e-4."
            )
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
