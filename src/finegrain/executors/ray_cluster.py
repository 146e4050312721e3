"""Run jobs on a Ray cluster: each job in a fresh worker process, with its CPU share as torch threads.

A fresh process per job (``max_calls=1``) means no state leaks from one job into the next (torch's
thread pool, a cached model, a changed working folder). The driver checks the address itself before
``ray.init``: Ray waits about a minute on an address where nothing listens, we say so in seconds.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from finegrain.errors import ConfigError
from finegrain.executors.base import Job, Outcome

__all__ = ["RayExecutor", "check_address"]

T = TypeVar("T")
_PROBE_SECONDS = 5.0  # long enough for a slow network, short enough that a typo is reported at once
_INSTALL = "pip install 'finegrain[ray]'"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("executor 'ray' needs the ray package, which is not installed.", where="executor.name",
                          hint=f"Install it with: {_INSTALL}; or run with the local executor.") from None
    return ray


class RayExecutor:
    """Jobs as Ray tasks, ``cpus``/``gpus`` each, yielded as they finish."""

    parallel = True

    def __init__(self, *, address: str = "auto", cpus: float = 1.0, gpus: float = 0.0):
        self.ray = _import_ray()
        self.target = check_address(self.ray, address)  # a wrong address fails now, before any work
        self.cpus, self.gpus = cpus, gpus
        self.threads = max(1, int(cpus))

    def run(self, jobs: Sequence[Job[T]]) -> Iterator[Outcome[T]]:
        if not jobs:
            return
        started_here = _connect(self.ray, self.target)
        try:
            yield from self._run(jobs)
        finally:
            if started_here:
                self.ray.shutdown()

    def _run(self, jobs: Sequence[Job[T]]) -> Iterator[Outcome[T]]:
        ray = self.ray
        task = ray.remote(max_calls=1)(_run_in_worker).options(num_cpus=self.cpus, num_gpus=self.gpus)
        stored: dict[int, Any] = {}  # an argument many jobs share (the study's data) is stored once
        folder = os.getcwd()
        pending = {task.remote(job.function, self.threads, folder, *[_store(ray, a, stored) for a in job.arguments]):
                   job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(done[0])
            try:
                yield Outcome(job, ray.get(done[0]), threads=self.threads)
            except ray.exceptions.RayError as error:  # the job raised, or its worker process died
                yield Outcome(job, None, _describe(error), threads=self.threads)


def check_address(ray: Any, address: str) -> str | None:
    """HOST:PORT of a cluster that answers; None when Ray is already initialised here or 'local' asks to start it."""
    if ray.is_initialized() or address == "local":  # a caller (a test, a notebook) may have chosen the cluster
        return None
    target = _resolve(ray, address)
    _probe(target)
    return target


def _connect(ray: Any, target: str | None) -> bool:
    """Join the cluster (or start one on this machine); True when this call started Ray."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": "WARNING", "include_dashboard": False}
    try:
        ray.init(address=target, **options)
    except (ConnectionError, RuntimeError) as error:
        raise ConfigError(f"Could not join the Ray cluster at {target}: {error}", where="executor.address",
                          hint="Check that the head runs the same ray and Python versions as this machine.") from None
    return True


def _resolve(ray: Any, address: str) -> str:
    """HOST:PORT of the cluster, with 'auto' read from RAY_ADDRESS or the cluster `ray start` began here."""
    if address != "auto":
        return address
    try:  # ray's own lookup (private, but the same one ray.init uses for 'auto')
        found = ray._private.services.canonicalize_bootstrap_address(address)
    except ConnectionError:
        found = None
    if found is None:
        raise ConfigError("The address is 'auto', but no Ray cluster runs on this machine and RAY_ADDRESS is not set.",
                          where="executor.address",
                          hint="Start one with `ray start --head`, give the head's HOST:PORT, or use "
                               "--address local to start Ray for this command only.")
    return found


def _probe(target: str) -> None:
    host, _, port = target.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=_PROBE_SECONDS).close()
    except OSError as error:
        raise ConfigError(f"No Ray cluster answers at {target} ({error}; waited {_PROBE_SECONDS:g} s).",
                          where="executor.address",
                          hint="Start the head with `ray start --head --port=PORT` and give its HOST:PORT, "
                               "or use --address local to start Ray on this machine.") from None


def _store(ray: Any, argument: Any, stored: dict[int, Any]) -> Any:
    key = id(argument)  # the jobs hold their arguments, so an id is not reused while we submit
    if key not in stored:
        stored[key] = ray.put(argument)
    return stored[key]


def _run_in_worker(function: Callable[..., T], threads: int, folder: str, *arguments: Any) -> T:
    """In the worker: the job's CPU share as torch threads, the driver's working folder where it exists."""
    import torch

    torch.set_num_threads(threads)
    if os.path.isdir(folder):  # relative paths in a config mean the same on a node that shares the folder
        os.chdir(folder)
    return function(*arguments)


def _describe(error: Exception) -> str:
    cause = getattr(error, "cause", None)  # RayTaskError carries the job's own exception
    if isinstance(cause, Exception):
        return f"{type(cause).__name__}: {cause}"
    return f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
