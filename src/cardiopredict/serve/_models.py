"""The fold ensembles a server scores with: what each one reads, and the card that says what it is.

A model directory is ``<run>/models/<model>/`` (``fold*.safetensors`` + ``model.json``, written by a
study). Its ``inputs_spec`` says which upload fields the model needs: each manifest file column becomes
one field (``ecg_pre`` -> ``pre``), of a kind — ``"ecg"`` (any format :func:`cardiopredict.read_ecg`
reads) or ``"lge_zip"`` (a zip of an LGE series with contours, for the VA study). The run's
``metrics.json`` and ``config.json`` two folders up give the model card: training cohort size, whether
it was synthetic, pooled AUC with its 95 % CI, protocol.

A directory that does not load is kept as an :class:`UnavailableModel` with the reason, so the server
still starts and answers for it with a 4xx that says why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardiopredict.config import ECGWindowConfig
from cardiopredict.errors import CardioPredictError, ConfigError, ModelFileError
from cardiopredict.features import ECG_FEATURES, FEATURE_VERSION

INPUT_KINDS = {
    "ecg": "12-lead ECG file (CSV/XLSX export, DICOM waveform, GE MUSE, Philips, HL7 aECG, SCP-ECG)",
    "lge_zip": "zip of the LGE short-axis series (DICOM or NIfTI) with its epi/endo contours",
}
SCORED_KINDS = ("ecg", "lge_zip")
"""Input kinds this version can turn into model input."""

POSITIVE_LABELS = {"crt": "CRT response", "va": "ventricular arrhythmia"}


@dataclass(frozen=True)
class InputField:
    """One upload field of a model: ``name`` (multipart field), ``kind``, and the manifest ``column``."""

    name: str
    kind: str
    column: str
    description: str


@dataclass
class ServedModel:
    """A loaded fold ensemble with its upload fields and model card."""

    name: str
    directory: Path
    ensemble: Any
    window: ECGWindowConfig | None
    spec: dict[str, dict[str, str]]
    fields: list[InputField]
    card: dict[str, Any] = field(default_factory=dict)
    build: Any = None
    """An LGE model's input builder (:func:`cardiopredict.studies.predict.input_builder`)."""
    gradient_ensemble: Any = field(default=None, repr=False, compare=False)
    """The copy of ``ensemble`` the saliency differentiates, made on first use
    (:func:`cardiopredict.serve._figures.gradient_ensemble`); never used for scores."""

    @property
    def kind(self) -> str:
        """``"ecg"`` or ``"lge_zip"``: what every upload field of this model is."""
        return self.fields[0].kind

    @property
    def lge_config(self) -> dict[str, Any]:
        """An LGE model's ``lge_input`` block of ``model.json`` (empty for ECG models)."""
        return dict(self.ensemble.config.get("lge_input") or {})

    @property
    def study(self) -> str:
        return str(self.ensemble.config.get("study", ""))

    @property
    def classes(self) -> list[Any]:
        return list(self.ensemble.config.get("classes") or [0, 1])

    def describe(self) -> dict[str, Any]:
        """The public description (``GET /api/v1/models``): inputs, preprocessing, card."""
        config = self.ensemble.config
        return {
            "name": self.name,
            "available": True,
            "study": self.study,
            "outcome": POSITIVE_LABELS.get(self.study, str(config.get("label", "class 1"))),
            "classes": self.classes,
            "inputs": [
                {"field": f.name, "kind": f.kind, "description": f.description, "required": True}
                for f in self.fields
            ],
            "preprocessing": self._preprocessing(),
            "n_folds": len(self.ensemble.models),
            "card": self.card,
        }

    def _preprocessing(self) -> dict[str, Any]:
        config = self.ensemble.config
        features = {key: item["feature"] for key, item in self.spec.items()}
        if self.window is None:
            lge = dict(config.get("lge_preprocessing") or {})
            if isinstance(lge.get("scar_method"), dict):  # a learned scar model's source is a server path
                lge["scar_method"] = {k: v for k, v in lge["scar_method"].items() if k != "source"}
            return {
                "lge": lge,
                "feature_version": config.get("lge_feature_version"),
                "features": features,
            }
        return {
            "window": self.window.to_dict(),
            "feature_version": config.get("feature_version"),
            "features": features,
        }


@dataclass(frozen=True)
class UnavailableModel:
    """A ``--model`` directory that did not load; every request for it answers with ``reason``."""

    name: str
    reason: str

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "available": False, "reason": self.reason}


def field_name(column: str) -> str:
    """Upload field of a manifest file column: ``ecg_pre`` -> ``pre``, ``ecg`` -> ``ecg``."""
    return column.removeprefix("ecg_") if column.startswith("ecg_") else column


def input_kind(item: Mapping[str, str]) -> str:
    """Kind of one ``inputs_spec`` entry: its ``kind``, else ``"lge_zip"`` for an ``lge`` column, else ECG."""
    column = str(item.get("column", ""))
    return str(item.get("kind") or ("lge_zip" if column.split("_")[0] == "lge" else "ecg"))


def parse_model_option(value: str) -> tuple[str | None, Path]:
    """``"NAME=DIR"`` -> ``("NAME", DIR)``; a bare ``"DIR"`` -> ``(None, DIR)``."""
    name, sep, path = value.partition("=")
    if sep and name and "/" not in name and not Path(value).exists():
        return name, Path(path)
    return None, Path(value)


def default_name(directory: Path) -> str:
    """``<study>-<model folder>`` from ``model.json`` (e.g. ``crt-combined``), else the folder name."""
    try:
        study = json.loads((directory / "model.json").read_text(encoding="utf-8")).get("study")
    except (OSError, ValueError, AttributeError):
        study = None
    return f"{study}-{directory.name}" if study else directory.name


def load_models(options: Iterable[str | Path]) -> dict[str, ServedModel | UnavailableModel]:
    """Load every ``--model`` option (``DIR`` or ``NAME=DIR``); failures become :class:`UnavailableModel`.

    Raises
    ------
    ConfigError
        No model given, or two models with the same name (name them with ``NAME=DIR``).
    """
    models: dict[str, ServedModel | UnavailableModel] = {}
    for option in options:
        name, directory = parse_model_option(str(option))
        name = name or default_name(directory)
        if name in models:
            raise ConfigError(
                f"two --model options are both named {name!r}; name them with NAME=DIR, "
                f"e.g. --model {name}-2={directory}."
            )
        try:
            models[name] = load_model(directory, name=name)
        except CardioPredictError as error:
            message = str(error).replace(str(directory), f"<model {name}>")
            models[name] = UnavailableModel(name, f"{type(error).__name__}: {message}")
    if not models:
        raise ConfigError("no model given; pass --model <run>/models/<model> (repeatable).")
    return models


def load_model(directory: str | Path, *, name: str) -> ServedModel:
    """Load one fold ensemble and check that this version rebuilds its inputs exactly.

    Raises
    ------
    ModelFileError
        Missing or corrupt files, no ``inputs_spec``/``window``/``lge_input``, other preprocessing
        than this version's (feature version, scar method), or an input kind it cannot score.
    """
    from cardiopredict.studies.predict import input_builder
    from cardiopredict.training.artifacts import Ensemble

    directory = Path(directory)
    ensemble = Ensemble.load(directory)
    config = ensemble.config
    spec = config.get("inputs_spec")
    fields = _input_fields(spec, directory) if spec else []
    kinds = {f.kind for f in fields}
    if not fields or (kinds == {"ecg"} and "window" not in config):
        raise ModelFileError(
            f"{directory}/model.json does not say how its inputs were built (no inputs_spec/window); "
            "it was not trained by a cardiopredict study. Retrain it with a study command."
        )
    if len(kinds) > 1:
        raise ModelFileError(f"{directory}: inputs of kinds {sorted(kinds)} in one model cannot be served.")
    if kinds == {"lge_zip"} and "lge_input" not in config:
        raise ModelFileError(
            f"{directory}/model.json reads LGE slices but does not say how they were preprocessed (no "
            "lge_input); retrain it with `cardiopredict va run`."
        )
    if kinds == {"ecg"} and config.get("feature_version") != FEATURE_VERSION:
        raise ModelFileError(
            f"{directory} was trained on ECG features of version {config.get('feature_version')}; this "
            f"cardiopredict builds version {FEATURE_VERSION}. Retrain it or serve it with the version "
            "that trained it."
        )
    lge = kinds == {"lge_zip"}
    return ServedModel(
        name=name,
        directory=directory,
        ensemble=ensemble,
        window=None if lge else ECGWindowConfig(**config["window"]),
        spec={key: dict(item) for key, item in spec.items()},
        fields=fields,
        card=model_card(directory, config),
        build=input_builder(ensemble, directory) if lge else None,  # checks its preprocessing
    )


def _input_fields(spec: Mapping[str, Mapping[str, str]], directory: Path) -> list[InputField]:
    fields: dict[str, InputField] = {}
    for key, item in spec.items():
        kind = input_kind(item)
        if kind not in SCORED_KINDS:
            raise ModelFileError(
                f"{directory}: input {key!r} is of kind {kind!r}, which this version cannot score yet "
                f"(it scores {', '.join(SCORED_KINDS)}). Serve it with a version that supports it."
            )
        if kind == "ecg" and item.get("feature") not in ECG_FEATURES:
            raise ModelFileError(
                f"{directory}: input {key!r} reads feature {item.get('feature')!r}; known ECG features "
                f"are {', '.join(ECG_FEATURES)}."
            )
        column = str(item["column"])
        fields.setdefault(column, InputField(field_name(column), kind, column, INPUT_KINDS[kind]))
    return sorted(fields.values(), key=lambda f: (f.name != "pre", f.name))


def model_card(directory: Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """What the model was trained on, from the run's ``metrics.json``/``config.json`` (two folders up).

    Only aggregate facts: no patient identifier of the training cohort is copied.
    """
    run = directory.parent.parent
    metrics = _read_json(run / "metrics.json")
    run_config = _read_json(run / "config.json")
    block = (metrics.get("models") or {}).get(directory.name) or {}
    baselines = metrics.get("baselines") or {}
    synthetic = metrics.get("synthetic", run_config.get("synthetic"))
    from cardiopredict.studies import crt, va

    rule = {"crt": crt.RULE, "va": va.RULE}.get(str(config.get("study")))
    rule = rule if rule in baselines else None
    return {
        "study": config.get("study"),
        "training_cohort": {
            "n_patients": metrics.get("n_patients"),
            "n_excluded": metrics.get("n_excluded"),
            "synthetic": synthetic,
        },
        "pooled_auc": block.get("auc_pooled"),
        "auc_ci95": block.get("auc_ci95"),
        "rule_auc": {"name": rule, "pooled_auc": baselines[rule].get("auc_pooled")} if rule else None,
        "protocol": {
            "profile": config.get("profile", run_config.get("profile")),
            "n_folds": len(config.get("folds") or []),
            "early_stopping": config.get("early_stopping"),
            "training": config.get("training"),
        },
        "metrics_found": bool(metrics),
        "research_use_only": True,
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
