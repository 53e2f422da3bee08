"""One LightningModule for binary or multiclass classification of an input dict.

The module wraps a registered network (:func:`cardiopredict.models.build_model`) so its hyper-parameters
(name, keyword arguments, classes, learning rate) are plain data (``save_hyperparameters``).

Binary (``n_classes == 2``): the network returns one logit per row, the loss is
``BCEWithLogitsLoss`` and the probability is ``sigmoid(logit)`` = P(class 1). Multiclass: ``n_classes``
logits, softmax cross-entropy, probabilities by softmax.

:mod:`cardiopredict.training.crossval` drives :meth:`ClassifierModule.step` and
:meth:`configure_optimizers` from a lean loop; ``lightning.Trainer.fit`` works on this module too
(``benchmarks/train_speed.py`` times both against plain PyTorch, ``docs/BENCHMARKS.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning
import torch
from torch import Tensor, nn

from cardiopredict.errors import ConfigError
from cardiopredict.models import build_model
from cardiopredict.models._registry import resolved_kwargs

Batch = tuple[dict[str, Tensor], Tensor]


class ClassifierModule(lightning.LightningModule):
    """Classifier of an input dict with a network from the model registry.

    Parameters
    ----------
    model_name : str
        Registry name, e.g. ``"ecgnet"``.
    model_kwargs : mapping
        Keyword arguments of the builder. ``n_outputs`` must be 1 when ``n_classes == 2`` and
        ``n_classes`` otherwise (it is filled in when absent).
    n_classes : int
        2 for binary classification, else the number of classes.
    learning_rate : float
        Adam learning rate (paper: 1e-4).
    """

    def __init__(
        self,
        model_name: str,
        model_kwargs: Mapping[str, Any],
        *,
        n_classes: int = 2,
        learning_rate: float = 1e-4,
    ) -> None:
        super().__init__()
        model_kwargs = resolve_model_kwargs(model_kwargs, n_classes=n_classes, model_name=model_name)
        self.save_hyperparameters(
            {
                "model_name": model_name,
                "model_kwargs": model_kwargs,
                "n_classes": n_classes,
                "learning_rate": learning_rate,
            }
        )
        self.model: nn.Module = build_model(model_name, **model_kwargs)
        self.n_classes = n_classes
        self.learning_rate = learning_rate
        self.loss_fn: nn.Module = nn.BCEWithLogitsLoss() if n_classes == 2 else nn.CrossEntropyLoss()

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        """Logits ``(batch,)`` (binary) or ``(batch, n_classes)``."""
        return self.model(inputs)

    def loss(self, logits: Tensor, y: Tensor) -> Tensor:
        """Mean loss of a batch; ``y`` holds integer class labels ``(batch,)``."""
        if self.n_classes == 2:
            return self.loss_fn(logits, y.to(logits.dtype))
        return self.loss_fn(logits, y.long())

    def probabilities(self, logits: Tensor) -> Tensor:
        """P(class 1) ``(batch,)`` for binary, softmax ``(batch, n_classes)`` otherwise."""
        return torch.sigmoid(logits) if self.n_classes == 2 else torch.softmax(logits, dim=-1)

    def step(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Loss and (detached) logits of one batch ``(inputs, y)``."""
        inputs, y = batch
        logits = self(inputs)
        return self.loss(logits, y), logits.detach()

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss, _ = self.step(batch)
        if self._trainer is not None:
            self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch[1]))
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss, _ = self.step(batch)
        if self._trainer is not None:
            self.log("val_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch[1]))
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # The fused kernel (one pass over all parameters) made a training step ~13 % faster on CPU
        # (docs/BENCHMARKS.md); it is the same Adam update.
        try:
            return torch.optim.Adam(self.parameters(), lr=self.learning_rate, fused=True)
        except (RuntimeError, TypeError):  # a device or dtype without the fused kernel
            return torch.optim.Adam(self.parameters(), lr=self.learning_rate)


def resolve_model_kwargs(
    model_kwargs: Mapping[str, Any], *, n_classes: int, model_name: str | None = None
) -> dict[str, Any]:
    """``model_kwargs`` with ``n_outputs`` filled in and checked against ``n_classes``; with
    ``model_name``, also every other builder default (what ``model.json`` stores)."""
    if n_classes < 2:
        raise ConfigError(f"n_classes={n_classes}: classification needs at least 2 classes.")
    expected = 1 if n_classes == 2 else n_classes
    kwargs = dict(model_kwargs)
    kwargs.setdefault("n_outputs", expected)
    if kwargs["n_outputs"] != expected:
        raise ConfigError(
            f"model_kwargs n_outputs={kwargs['n_outputs']} does not fit n_classes={n_classes}: use "
            f"n_outputs={expected} (binary: one logit; k classes: k logits)."
        )
    if model_name is not None:
        kwargs = resolved_kwargs(model_name, **kwargs)
    return kwargs
