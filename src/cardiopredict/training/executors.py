"""Where independent trainings run: one after another in this process, or spread over a Ray cluster.

Both executors have one interface, :meth:`map`: ``function(shared, item)`` is called once per item;
``shared`` (the per-patient input arrays) is sent once — :class:`RayExecutor` puts it in the object
store a single time and every task reads it from there — and the outcomes come back in submission
order, whatever order the trainings finish in. A training that raises is retried once; if it fails
again its :class:`Outcome` carries the error and the others still finish. One progress bar counts
the finished trainings.

Reproducibility: a training's numerics may depend on torch's intra-op thread count (how sums are
split), so each executor pins it per training: :class:`LocalExecutor` to ``threads`` (default: leave
the process's setting, i.e. today's behaviour), :class:`RayExecutor` to ``cpus_per_training``. The same
seed and the same thread count per training give bit-identical results with either executor
(``LocalExecutor(threads=1)`` and ``RayExecutor(cpus_per_training=1)`` agree bit for bit).

Ray is an optional extra (``pip install cardiopredict[ray]``) imported only when a
:class:`RayExecutor` is created.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import torch

from cardiopredict.errors import ConfigError
from cardiopredict.training.crossval import _Progress

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "Outcome", "RayExecutor", "make_executor"]

EXECUTORS = ("local", "ray")
T = TypeVar("T")
_ATTEMPTS = 2  # a failed training is retried once


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """The result of one training, or why it failed (after the retry).

    Attributes
    ----------
    label : str
        What the training was, e.g. ``"combined fold 3"`` (for messages).
    value : object or None
        What the function returned; None when it failed.
    error : str or None
        ``"<ExceptionType>: <message>"`` of the last attempt; None on success.
    """

    label: str
    value: T | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the training finished."""
        return self.error is None


class Executor(Protocol):
    """Runs independent trainings; see the module docstring."""

    name: str

    def map(
        self,
        function: Callable[[Any, Any], T],
        shared: Any,
        items: Sequence[Any],
        *,
        labels: Sequence[str],
        progress: bool = False,
    ) -> list[Outcome[T]]: ...

    def describe(self) -> dict[str, Any]: ...


@contextmanager
def pinned_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)`` (None: leave it), then restore it."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _call(function: Callable[[Any, Any], T], shared: Any, item: Any, threads: int | None) -> T:
    with pinned_threads(threads):
        return function(shared, item)


def _check_labels(items: Sequence[Any], labels: Sequence[str]) -> None:
    if len(items) != len(labels):
        raise ConfigError(f"{len(items)} trainings but {len(labels)} labels; give one label per training.")


class LocalExecutor:
    """Trainings one after another in this process (the default executor).

    Parameters
    ----------
    threads : int, optional
        torch intra-op threads per training; None keeps the process's current setting.
    """

    name = "local"

    def __init__(self, *, threads: int | None = None) -> None:
        if threads is not None and threads < 1:
            raise ConfigError(f"threads={threads}: give at least 1 thread per training, or None.")
        self.threads = threads

    def map(
        self,
        function: Callable[[Any, Any], T],
        shared: Any,
        items: Sequence[Any],
        *,
        labels: Sequence[str],
        progress: bool = False,
    ) -> list[Outcome[T]]:
        """``function(shared, item)`` for every item, in order; see the module docstring."""
        _check_labels(items, labels)
        outcomes: list[Outcome[T]] = []
        bar = _Progress(progress, total=len(items), name="trainings (local)")
        try:
            for item, label in zip(items, labels, strict=True):
                outcome = Outcome[T](label, error="not run")
                for _ in range(_ATTEMPTS):
                    try:
                        outcome = Outcome(label, value=_call(function, shared, item, self.threads))
                        break
                    except Exception as error:  # reported per training; the others go on
                        outcome = Outcome(label, error=_error_text(error))
                outcomes.append(outcome)
                bar.advance(1)
        finally:
            bar.close()
        return outcomes

    def describe(self) -> dict[str, Any]:
        """For ``config.json``: the executor and its thread setting."""
        return {"executor": self.name, "threads_per_training": self.threads or torch.get_num_threads()}


class RayExecutor:
    """Each training one Ray task with declared CPUs (and GPUs); inputs in the object store once.

    Parameters
    ----------
    address : str, optional
        A running cluster (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``); None starts a local
        Ray with ``num_cpus`` CPUs (default: the machine's cores), no dashboard.
    cpus_per_training : int
        CPUs each task declares; also its torch thread count.
    gpus_per_training : float
        GPUs each task declares (fractional allowed, e.g. 0.25 = four trainings per GPU); use with
        ``device="cuda"``.
    num_cpus : int, optional
        CPUs of a locally started Ray (ignored with ``address``).
    init_kwargs : mapping, optional
        Further :func:`ray.init` arguments (e.g. ``runtime_env``).
    """

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        cpus_per_training: int = 1,
        gpus_per_training: float = 0.0,
        num_cpus: int | None = None,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if cpus_per_training < 1 or gpus_per_training < 0:
            raise ConfigError(
                f"cpus_per_training={cpus_per_training}, gpus_per_training={gpus_per_training}: "
                "declare at least 1 CPU and a non-negative (possibly fractional) GPU share per training."
            )
        try:
            import ray
        except ImportError as error:
            raise ConfigError(
                "executor 'ray' needs Ray: pip install 'cardiopredict[ray]' (or use --executor local)."
            ) from error
        self._ray = ray
        self.address = address
        self.cpus_per_training = int(cpus_per_training)
        self.gpus_per_training = float(gpus_per_training)
        self._started = False
        self._shared: tuple[Any, Any] | None = None  # (payload, its object ref): put once, reused
        if not ray.is_initialized():
            options: dict[str, Any] = {"log_to_driver": False}
            if address is None:  # a private local Ray: this machine's cores, no dashboard
                options.update(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False)
            ray.init(address=address, **{**options, **(init_kwargs or {})})
            self._started = True
        self._remote = ray.remote(_call)

    def map(
        self,
        function: Callable[[Any, Any], T],
        shared: Any,
        items: Sequence[Any],
        *,
        labels: Sequence[str],
        progress: bool = False,
    ) -> list[Outcome[T]]:
        """One task per item; outcomes in submission order.

        ``shared`` is put in the object store once and reused while the same object is passed again
        (e.g. the rounds of a search).
        """
        _check_labels(items, labels)
        ray = self._ray
        if self._shared is None or self._shared[0] is not shared:
            self._shared = (shared, ray.put(shared))
        shared_ref = self._shared[1]
        task = self._remote.options(
            num_cpus=self.cpus_per_training,
            num_gpus=self.gpus_per_training,
            max_retries=_ATTEMPTS - 1,
            retry_exceptions=True,
        )
        refs = [task.remote(function, shared_ref, item, self.cpus_per_training) for item in items]
        position = {ref: i for i, ref in enumerate(refs)}
        outcomes: list[Outcome[T] | None] = [None] * len(refs)
        pending = list(refs)
        bar = _Progress(progress, total=len(refs), name="trainings (ray)")
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    i = position[ref]
                    try:
                        outcomes[i] = Outcome(labels[i], value=ray.get(ref))
                    except ray.exceptions.RayError as error:
                        cause = getattr(error, "cause", None)
                        outcomes[i] = Outcome(labels[i], error=_error_text(cause or error))
                    bar.advance(1)
        finally:
            bar.close()
        return [outcome for outcome in outcomes if outcome is not None]

    def describe(self) -> dict[str, Any]:
        """For ``config.json``: the executor, the cluster's resources and the per-training declaration."""
        return {
            "executor": self.name,
            "address": self.address or "local",
            "cluster_resources": {
                key: value for key, value in self._ray.cluster_resources().items() if key in ("CPU", "GPU")
            },
            "threads_per_training": self.cpus_per_training,
            "cpus_per_training": self.cpus_per_training,
            "gpus_per_training": self.gpus_per_training,
        }

    def shutdown(self) -> None:
        """Stop the Ray this executor started (a cluster it only joined is left running)."""
        self._shared = None
        if self._started:
            self._ray.shutdown()
            self._started = False


def make_executor(
    name: str,
    *,
    address: str | None = None,
    device: str = "cpu",
    cpus_per_training: int = 1,
    gpus_per_training: float = 1.0,
    threads: int | None = None,
) -> LocalExecutor | RayExecutor:
    """The executor ``name`` (``"local"`` or ``"ray"``) as the study commands configure it.

    ``gpus_per_training`` is declared only when ``device`` is a CUDA device; ``threads`` is the local
    executor's thread count (None: the process's).
    """
    if name not in EXECUTORS:
        raise ConfigError(f"executor={name!r}: choose 'local' or 'ray'.")
    if name == "local":
        if address is not None:
            raise ConfigError(
                f"--ray-address {address!r} is given but the executor is 'local'; add --executor ray."
            )
        return LocalExecutor(threads=threads)
    gpus = gpus_per_training if device.startswith("cuda") else 0.0
    return RayExecutor(address=address, cpus_per_training=cpus_per_training, gpus_per_training=gpus)
