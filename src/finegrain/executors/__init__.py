"""Executors: run a list of independent jobs (study cells, tuning trials) and yield each result as it finishes.

``local`` runs them one after another in this process; ``ray`` runs each in a fresh worker process of a
Ray cluster (``pip install finegrain[ray]``).
"""

from finegrain.executors.base import Executor, ExecutorConfig, Job, LocalExecutor, Outcome, make_executor

__all__ = ["Executor", "ExecutorConfig", "Job", "LocalExecutor", "Outcome", "make_executor"]
