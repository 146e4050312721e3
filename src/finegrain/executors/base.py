"""The executor seam: a list of independent jobs in, their outcomes out as each finishes.

A job is a module-level function and its arguments (Ray pickles the function by reference, so a
lambda or a closure would not reach a worker on another machine). A job that raises becomes an
outcome with an error, under every executor, so a caller handles one failure path.

Example:
    >>> jobs = [Job(key=n, function=abs, arguments=(-n,)) for n in (1, 2)]
    >>> [(o.job.key, o.value) for o in make_executor(ExecutorConfig()).run(jobs)]
    [(1, 1), (2, 2)]
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import Field, field_validator

from finegrain.config import Section

__all__ = ["Executor", "ExecutorConfig", "Job", "LocalExecutor", "Outcome", "make_executor"]

T = TypeVar("T")


class ExecutorConfig(Section):
    """Where the jobs run: ``executor: ray`` or ``{name: ray, address: HOST:PORT, cpus: 2, gpus: 1}``."""

    name: Literal["local", "ray"] = "local"
    # ray: 'auto' (the cluster that `ray start` began on this machine or RAY_ADDRESS), 'local' (start one
    # here for this command), or HOST:PORT of a cluster's head
    address: str = "auto"
    cpus: float = Field(1.0, gt=0)  # ray: CPUs per job; the job's torch threads are this, rounded down (>= 1)
    gpus: float = Field(0.0, ge=0)  # ray: GPUs per job (fractions share a GPU)

    @field_validator("address")
    @classmethod
    def _address_form(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if value not in ("auto", "local") and not (host and port.isdigit()):
            raise ValueError(f"expected 'auto', 'local' or HOST:PORT (e.g. 10.0.0.1:6379), got '{value}'")
        return value


@dataclass(frozen=True)
class Job(Generic[T]):
    key: Hashable  # the caller's handle (a study cell, a trial number)
    function: Callable[..., T]  # module-level, so a worker process can import it
    arguments: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Outcome(Generic[T]):
    job: Job[T]
    value: T | None
    error: str | None = None  # what went wrong, when the job raised or its worker died
    threads: int | None = None  # the torch threads the job ran with; None: the caller's own setting


class Executor(Protocol):
    # True when jobs run at the same time: a timing taken inside a job is then distorted by its neighbours
    parallel: bool

    def run(self, jobs: Sequence[Job[T]]) -> Iterator[Outcome[T]]:
        """Run every job; yield each outcome as its job finishes (in any order)."""
        ...


class LocalExecutor:
    """One job after another, in this process, with the caller's thread settings."""

    parallel = False

    def run(self, jobs: Sequence[Job[T]]) -> Iterator[Outcome[T]]:
        for job in jobs:
            try:
                value = job.function(*job.arguments)
            except Exception as error:  # the same failure path as a job that fails on a Ray worker
                yield Outcome(job, None, f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=8)}")
            else:
                yield Outcome(job, value)


def make_executor(config: ExecutorConfig) -> Executor:
    """The executor a config names; ``ray`` fails at once (ConfigError) when ray is not installed."""
    if config.name == "ray":
        from finegrain.executors.ray_cluster import RayExecutor

        return RayExecutor(address=config.address, cpus=config.cpus, gpus=config.gpus)
    return LocalExecutor()
