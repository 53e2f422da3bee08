"""Fold models on disk (safetensors + JSON) and the fold ensemble that scores new patients.

A model directory holds ``fold<k>.safetensors`` (the weights and buffers of fold ``k``'s network) and
``model.json`` (registry name, builder keyword arguments, classes, training configuration, fold
patients, best epochs, plus the study's own keys such as the input specification). ``model.json`` is
written last, so a directory without it is an unfinished run. Nothing is ever unpickled: weights are
read with :func:`safetensors.torch.load_file` only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import Tensor, nn

from cardiopredict._io import atomic_write_bytes, atomic_write_json
from cardiopredict.errors import CardioPredictError, InputError, ModelFileError
from cardiopredict.models import build_model

MODEL_JSON = "model.json"
FORMAT = "cardiopredict-fold-ensemble/1"
_PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")


def fold_file(k: int) -> str:
    """File name of fold ``k``'s weights."""
    return f"fold{k}.safetensors"


def save_fold_weights(model: nn.Module, path: Path) -> Path:
    """Write the state dict of ``model`` (weights + buffers, on CPU) to ``path`` atomically."""
    state = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    return atomic_write_bytes(Path(path), save(state, metadata={"format": FORMAT}))


def write_model_json(model_dir: Path, config: Mapping[str, Any]) -> Path:
    """Write ``model.json`` atomically (last step of saving an ensemble)."""
    return atomic_write_json(Path(model_dir) / MODEL_JSON, dict(config))


def load_fold_weights(path: Path) -> dict[str, Tensor]:
    """Read a ``.safetensors`` file; refuse anything else (pickles run code when loaded)."""
    path = Path(path)
    if path.suffix.lower() in _PICKLE_SUFFIXES or path.suffix.lower() != ".safetensors":
        raise ModelFileError(
            f"{path}: only .safetensors weight files are loaded; {path.suffix or 'this'} files may be "
            "pickles that run code when opened. Re-save the weights with safetensors.torch.save_file."
        )
    if not path.is_file():
        raise ModelFileError(f"{path}: weight file is missing; the run was interrupted or files were moved.")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelFileError(
            f"{path}: not a readable safetensors file ({error}); it is corrupt or truncated — retrain or "
            "restore it."
        ) from error


class Ensemble:
    """The fold models of a cross-validated run; predicts with the mean of their probabilities.

    Build with :meth:`load`. ``config`` is the ``model.json`` dict; ``models`` the fold networks (eval
    mode); ``n_classes``; ``input_keys`` the input dict keys the networks read.
    """

    def __init__(self, models: list[nn.Module], config: dict[str, Any], *, device: str = "cpu") -> None:
        if not models:
            raise ModelFileError("an ensemble needs at least one fold model.")
        self.models = models
        self.config = config
        self.n_classes = int(config.get("n_classes", 2))
        self.device = torch.device(device)
        self.input_keys: tuple[str, ...] = tuple(getattr(models[0], "input_keys", ()))

    @classmethod
    def load(cls, model_dir: str | Path, *, device: str = "cpu") -> Ensemble:
        """Rebuild every fold network from ``model_dir`` (``model.json`` + ``fold<k>.safetensors``).

        Raises
        ------
        ModelFileError
            ``model.json`` missing or unreadable, a weight file missing, corrupt, not safetensors, or
            holding tensors that do not match the network ``model.json`` describes.
        """
        directory = Path(model_dir)
        config_path = directory / MODEL_JSON
        if not config_path.is_file():
            pickles = sorted(p.name for p in directory.glob("*") if p.suffix.lower() in _PICKLE_SUFFIXES)
            hint = (
                f" It holds {pickles}: pickled weights are refused (they run code when loaded)."
                if pickles
                else " Train a model first (e.g. `cardiopredict crt run`), or point to <run>/models/<model>."
            )
            raise ModelFileError(f"{config_path} not found.{hint}")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ModelFileError(f"{config_path}: not valid JSON ({error}); the file is corrupt.") from error
        missing = [key for key in ("model", "model_kwargs", "folds") if key not in config]
        if not isinstance(config, dict) or missing:
            raise ModelFileError(
                f"{config_path}: missing fields {missing}; it was not written by cardiopredict."
            )
        models = []
        for entry in config["folds"]:
            path = directory / str(entry["file"])
            state = load_fold_weights(path)
            try:
                model = build_model(config["model"], **config["model_kwargs"])
            except CardioPredictError as error:
                raise ModelFileError(f"{config_path}: cannot rebuild the network: {error}") from error
            _load_state(model, state, path)
            model.to(device).eval()
            models.append(model)
        return cls(models, config, device=device)

    def predict(self, inputs: Mapping[str, np.ndarray], *, batch_size: int = 256) -> np.ndarray:
        """Mean fold probability per row.

        Parameters
        ----------
        inputs : mapping of str to ndarray
            The arrays the networks read (``input_keys``), float32, first axis = patients, e.g.
            ``{"pre": (n, 12, 250), "post": (n, 12, 250)}``.
        batch_size : int
            Rows per forward pass.

        Returns
        -------
        ndarray
            ``(n,)`` P(class 1) when ``n_classes == 2``, else ``(n, n_classes)`` class probabilities.
        """
        missing = [key for key in self.input_keys if key not in inputs]
        if missing:
            raise InputError(f"inputs lack {missing}; this model reads {list(self.input_keys)}.")
        lengths = {key: len(inputs[key]) for key in self.input_keys}
        if len(set(lengths.values())) > 1:
            raise InputError(
                f"inputs have different numbers of rows {lengths}; give one row per patient each."
            )
        n = next(iter(lengths.values()))
        outputs = []
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                batch = {
                    key: torch.as_tensor(
                        np.asarray(inputs[key][start : start + batch_size], dtype=np.float32),
                        device=self.device,
                    )
                    for key in self.input_keys
                }
                outputs.append(self.probabilities(batch).cpu().numpy())
        if not outputs:
            shape = (0,) if self.n_classes == 2 else (0, self.n_classes)
            return np.zeros(shape, dtype=np.float32)
        return np.concatenate(outputs).astype(np.float64)

    def probabilities(self, inputs: Mapping[str, Tensor]) -> Tensor:
        """Differentiable mean fold probability of a batch of tensors (for saliency methods).

        Returns ``(batch,)`` (binary) or ``(batch, n_classes)``; the networks stay in eval mode.
        """
        total = None
        for model in self.models:
            logits = model(inputs)
            proba = torch.sigmoid(logits) if self.n_classes == 2 else torch.softmax(logits, dim=-1)
            total = proba if total is None else total + proba
        assert total is not None
        return total / len(self.models)


def _load_state(model: nn.Module, state: dict[str, Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(
        f"{name} {tuple(state[name].shape)} != {tuple(expected[name].shape)}"
        for name in set(expected) & set(state)
        if state[name].shape != expected[name].shape
    )
    if missing or unexpected or wrong_shape:
        raise ModelFileError(
            f"{path} does not match the network described in model.json: missing tensors {missing[:5]}, "
            f"unexpected {unexpected[:5]}, wrong shapes {wrong_shape[:5]}. The weights belong to another "
            "model; retrain or restore the matching model.json."
        )
    model.load_state_dict(state, strict=True)
