"""Where the CPU-bound work of a request runs: threads of the server process, or worker processes.

Reading and delineating ECGs, the forward passes and the figures are mostly Python and numpy code
that holds the GIL, so two threads on two cores score no faster than one (measured: docs/SERVE.md).
:class:`ProcessCompute` runs them in ``processes`` worker processes instead, each of which loads the
served models once when it starts (one torch thread each); the server process keeps only the HTTP
work, the uploads and the result store. :class:`ThreadCompute` (the default of ``create_app``, used by
the tests) runs them in at most ``workers`` threads of the server process.

Both run a *job*: a module-level function ``job(model, *args)`` given the served model by name; in a
worker process the arguments and the result cross the process boundary by pickling (the uploads stay
on disk, only their paths are sent).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from starlette.exceptions import HTTPException

from cardiopredict.errors import ModelFileError
from cardiopredict.serve._models import ServedModel, UnavailableModel

log = logging.getLogger("cardiopredict.serve")
Models = Mapping[str, ServedModel | UnavailableModel]
_WORKER_MODELS: dict[str, ServedModel | UnavailableModel] = {}  # set in each worker process


class ThreadCompute:
    """Jobs in threads of this process, at most ``workers`` at a time (more requests wait their turn)."""

    def __init__(self, models: Models, *, workers: int) -> None:
        self.models = models
        self.workers = int(workers)
        self._limiter: anyio.CapacityLimiter | None = None

    async def start(self) -> None:
        self._limiter = anyio.CapacityLimiter(self.workers)  # made in the event loop that uses it

    async def stop(self) -> None:
        return None

    async def run(self, job: Callable[..., Any], model_name: str, *args: Any, **kwargs: Any) -> Any:
        """``job(model, *args, **kwargs)`` in a worker thread."""
        if self._limiter is None:
            await self.start()
        model = _served(self.models, model_name)
        work = partial(job, model, *args, **kwargs)
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)


class ProcessCompute:
    """Jobs in ``processes`` worker processes that each hold the served models.

    ``start`` launches the workers and waits until every one has loaded the models, so the first
    request does not pay for it. A worker that dies (killed, out of memory) breaks the pool: the
    request gets 503 and the pool is started again.
    """

    def __init__(self, models: Models, *, processes: int, torch_threads: int = 1) -> None:
        self.directories = {
            name: str(model.directory) for name, model in models.items() if isinstance(model, ServedModel)
        }
        self.models = models
        self.processes = int(processes)
        self.torch_threads = int(torch_threads)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    async def start(self) -> None:
        await asyncio.to_thread(self._launch)

    async def stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def run(self, job: Callable[..., Any], model_name: str, *args: Any, **kwargs: Any) -> Any:
        """``job(model, *args, **kwargs)`` in a worker process; 503 when the worker died."""
        _served(self.models, model_name)  # unknown or unavailable: answered here, not by a worker
        if self._pool is None:
            await self.start()
        pool = self._pool
        try:
            future = pool.submit(_run_job, job, model_name, args, kwargs)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            log.error("a scoring worker process died; starting the workers again")
            await asyncio.to_thread(self._relaunch, pool)
            raise HTTPException(
                503, "the scoring worker stopped while handling this request; send it again."
            ) from None

    def _launch(self) -> None:
        with self._lock:
            if self._pool is not None:
                return
            context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
            barrier = context.Barrier(self.processes)
            pool = ProcessPoolExecutor(
                self.processes,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self.directories, self.torch_threads, barrier),
            )
            ready = [pool.submit(_ready) for _ in range(self.processes)]  # one per worker: spawns all
            pids = {future.result(timeout=600) for future in ready}
            log.info("scoring workers ready: %d processes", len(pids))
            self._pool = pool

    def _relaunch(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)
        self._launch()


def _served(models: Models, name: str) -> ServedModel:
    model = models[name]
    if isinstance(model, UnavailableModel):
        raise ModelFileError(f"model {name!r} did not load: {model.reason}")
    return model


def _init_worker(directories: dict[str, str], torch_threads: int, barrier: Any) -> None:
    """Worker start: one torch thread, load every served model, wait until all workers are ready.

    Ctrl-C reaches the whole process group; the server process handles it and stops the workers.
    """
    import signal

    import torch

    from cardiopredict.errors import CardioPredictError
    from cardiopredict.serve._models import load_model

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(max(1, torch_threads))
    for name, directory in directories.items():
        try:
            _WORKER_MODELS[name] = load_model(Path(directory), name=name)
        except CardioPredictError as error:  # changed on disk since the server loaded it
            _WORKER_MODELS[name] = UnavailableModel(name, f"{type(error).__name__}: {error}")
    barrier.wait(timeout=600)


def _ready() -> int:
    import os

    return os.getpid()


def _run_job(job: Callable[..., Any], model_name: str, args: tuple, kwargs: dict) -> Any:
    return job(_served(_WORKER_MODELS, model_name), *args, **kwargs)
