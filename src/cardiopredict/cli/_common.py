"""Shared CLI helpers: parse comma lists, the study commands' shared options (protocol and executor),
turn library errors into clean exits."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from cardiopredict.config import StudyProfile, TrainingConfig
from cardiopredict.errors import CardioPredictError
from cardiopredict.training.executors import EXECUTORS, Executor, make_executor

if TYPE_CHECKING:
    from cardiopredict.studies.engine import StudySpec

F = TypeVar("F", bound=Callable[..., Any])


def comma_list(value: str, *, allowed: Sequence[str], option: str) -> tuple[str, ...]:
    """``"pre,post"`` → ``("pre", "post")``, refusing names not in ``allowed``."""
    items = tuple(item.strip() for item in value.split(",") if item.strip())
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise typer.BadParameter(f"{option} {value!r}: choose from {', '.join(allowed)} (comma-separated).")
    return items


def profile_for(
    *,
    quick: bool,
    folds: int,
    seed: int,
    max_epochs: int,
    device: str,
    learning_rate: float | None = None,
) -> StudyProfile:
    """The paper's protocol, or the quick smoke-test profile with ``--quick``; ``learning_rate``
    replaces the protocol's and renames it (``paper-lr0.001``)."""
    if quick:
        profile = StudyProfile.quick(seed=seed, device=device)
    else:
        profile = StudyProfile.paper(seed=seed, n_folds=folds, max_epochs=max_epochs, device=device)
    return profile.with_learning_rate(learning_rate)


def clean_errors(function: F) -> F:
    """Print a CardioPredictError as one clear message and exit 2, without a traceback."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except CardioPredictError as error:
            typer.secho(f"error: {type(error).__name__}: {error}", err=True, fg="red")
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


TRAINING_DEFAULTS = TrainingConfig()
"""The defaults every study command shows (from :mod:`cardiopredict.config`, never repeated)."""


def print_scores(metrics: dict[str, Any], names: Sequence[str]) -> None:
    """One line per model/baseline of a single-task study: pooled AUC with its 95 % CI."""
    blocks = {**metrics.get("models", {}), **metrics.get("baselines", {})}
    for name in names:
        block = blocks[name]
        lo, hi = block.get("auc_ci95") or (None, None)
        ci = f"[95% CI {lo:.3f}-{hi:.3f}]" if lo is not None and hi is not None else ""
        typer.echo(f"{name:>18}: pooled AUC {block['auc_pooled']:.3f} {ci}")
    if metrics.get("oracle_auc") is not None:
        typer.echo(f"{'oracle':>18}: AUC {metrics['oracle_auc']:.3f} (true probabilities, synthetic cohort)")


ExecutorOption = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where the fold trainings run: local (this process, one after another) or ray (one Ray task "
        "per training; same results for the same seed, see docs/SCALING.md).",
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster to join (auto, HOST:6379, ray://HOST:10001); default: start a local Ray with "
        "this machine's cores.",
    ),
]
CpusPerTrainingOption = Annotated[
    int, typer.Option("--cpus-per-training", help="With --executor ray: CPUs (= torch threads) per training.")
]
GpusPerTrainingOption = Annotated[
    float,
    typer.Option(
        "--gpus-per-training", help="With --executor ray and --device cuda: GPUs per training (0.25 allowed)."
    ),
]


@contextmanager
def study_executor(
    executor: str, ray_address: str | None, *, device: str, cpus_per_training: int, gpus_per_training: float
) -> Iterator[Executor]:
    """The executor of ``--executor``/``--ray-address``; a Ray started here is stopped afterwards."""
    if executor not in EXECUTORS:
        raise typer.BadParameter(f"--executor {executor!r}: choose from {', '.join(EXECUTORS)}.")
    chosen = make_executor(
        executor,
        address=ray_address,
        device=device,
        cpus_per_training=cpus_per_training,
        gpus_per_training=gpus_per_training,
    )
    try:
        yield chosen
    finally:
        shutdown = getattr(chosen, "shutdown", None)
        if shutdown is not None:
            shutdown()


# The study commands' shared options (one definition; defaults from config.TrainingConfig).
FoldsOption = Annotated[int, typer.Option(help="Cross-validation folds (by patient).")]
SeedOption = Annotated[int, typer.Option(help="Seed for folds, weights and batches.")]
MaxEpochsOption = Annotated[int, typer.Option(help="Maximum epochs per fold.")]
LearningRateOption = Annotated[
    float | None,
    typer.Option(help="Adam learning rate instead of the protocol's (paper 1e-4); renames the protocol."),
]
DeviceOption = Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")]
QuickOption = Annotated[bool, typer.Option(help="2 folds, few epochs: a smoke test, not a result.")]
FreshOption = Annotated[
    bool, typer.Option(help="Retrain everything instead of reusing trainings finished in OUT.")
]


@dataclass(frozen=True)
class StudyOptions:
    """The options every ``<study> run`` command shares: the protocol and where the trainings run.

    :func:`with_study_options` adds them to a command; the defaults come from ``TrainingConfig``.
    """

    folds: FoldsOption = TRAINING_DEFAULTS.n_folds
    seed: SeedOption = TRAINING_DEFAULTS.seed
    max_epochs: MaxEpochsOption = TRAINING_DEFAULTS.max_epochs
    learning_rate: LearningRateOption = None
    device: DeviceOption = TRAINING_DEFAULTS.device
    quick: QuickOption = False
    fresh: FreshOption = False
    executor: ExecutorOption = "local"
    ray_address: RayAddressOption = None
    cpus_per_training: CpusPerTrainingOption = 1
    gpus_per_training: GpusPerTrainingOption = 1.0

    def profile(self) -> StudyProfile:
        """The protocol these options ask for (see :func:`profile_for`)."""
        return profile_for(
            quick=self.quick,
            folds=self.folds,
            seed=self.seed,
            max_epochs=self.max_epochs,
            device=self.device,
            learning_rate=self.learning_rate,
        )

    def run(self, spec: StudySpec, manifest: Path, out: Path, *, profile: StudyProfile) -> dict[str, Any]:
        """Run ``spec`` on the chosen executor with a progress bar, resuming unless ``--fresh``."""
        from cardiopredict.studies.engine import run_study

        with study_executor(
            self.executor, self.ray_address, device=self.device, cpus_per_training=self.cpus_per_training,
            gpus_per_training=self.gpus_per_training,
        ) as chosen:  # fmt: skip
            return run_study(
                spec, manifest, out, profile=profile, progress=True, resume=not self.fresh, executor=chosen
            )


def echo_protocol(profile: StudyProfile) -> None:
    """Print ``protocol: paper (5 folds, <= 100 epochs)``."""
    training = profile.training
    typer.echo(f"protocol: {profile.name} ({training.n_folds} folds, <= {training.max_epochs} epochs)")


def with_study_options(command: F) -> F:
    """Give a Typer command the :class:`StudyOptions` as options; it receives them as ``options``.

    One definition of the shared options instead of a copy in every study command: the decorator
    appends them to the command's signature (which Typer reads) and packs them into one object.
    """
    names = [field.name for field in fields(StudyOptions)]
    own = inspect.signature(command, eval_str=True)
    shared = inspect.signature(StudyOptions, eval_str=True).parameters
    parameters = [p for p in own.parameters.values() if p.name != "options"]
    parameters += [shared[name].replace(kind=inspect.Parameter.KEYWORD_ONLY) for name in names]

    @wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        options = StudyOptions(**{name: kwargs.pop(name) for name in names})
        return command(**kwargs, options=options)

    wrapper.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": own.return_annotation}
    return wrapper  # type: ignore[return-value]
