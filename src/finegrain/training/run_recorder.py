"""One recorder for every kind of run (fine-tuning, fitting an estimator, pretraining): it opens the
run's folder, writes ``run.json`` as the run goes, records what the run cost and finishes it.

Open: the folder is prepared by the main process (``--resume``/``--overwrite`` rules, staging for an
overwrite: :mod:`finegrain.training.run_dir`), the others wait and take the same folder. Guard: what
the run does inside :meth:`RunRecorder.guard` ends as :mod:`finegrain.training.run_guard` says, the
finished staging folder swapped in. Finish: the model card (``model/README.md``), ``metrics.json``,
``report.md`` when asked for, and ``run.json`` with the costs, the size on disk and ``status: finished``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accelerate import Accelerator

from finegrain.evaluation.model_card import write_model_card
from finegrain.evaluation.report import write_report
from finegrain.tasks.outputs import ReportSections
from finegrain.training.checkpoint import write_json_atomic
from finegrain.training.costs import Costs
from finegrain.training.run_dir import RunDir, check_model_kept, prepare_run_dir, run_dir_for
from finegrain.training.run_guard import guard_run
from finegrain.training.run_record import now, report_info

if TYPE_CHECKING:
    from huggingface_hub import ModelCard

__all__ = ["RunRecorder"]


class RunRecorder:
    """The record of one run in ``run`` (as :meth:`open` returns it); ``started`` is the
    ``time.perf_counter()`` at which this session began."""

    def __init__(self, accelerator: Accelerator, run: RunDir, started: float):
        self.accelerator, self.run, self.started = accelerator, run, started

    @classmethod
    def open(cls, accelerator: Accelerator, output: str | Path, config_text: str, *, resume: bool, overwrite: bool,
             started: float) -> RunRecorder:
        """Create (or, with ``resume``, reuse) the run folder for ``output`` holding ``config_text``."""
        run = None
        if accelerator.is_main_process:
            run = prepare_run_dir(output, config_text, resume=resume, overwrite=overwrite)
        accelerator.wait_for_everyone()
        return cls(accelerator, run or run_dir_for(output, overwrite=overwrite), started)

    def guard(self) -> AbstractContextManager[None]:
        """Wrap everything the run does in its open folder."""
        return guard_run(self.run, self.accelerator)

    def finished_metrics(self) -> dict[str, Any] | None:
        """The metrics of a run that had already finished (nothing left to do on --resume), else None."""
        if not self.run.is_finished():
            return None
        check_model_kept(self.run)
        return json.loads(self.run.metrics.read_text(encoding="utf-8"))

    def write_info(self, info: dict[str, Any]) -> None:
        """``run.json`` as it stands (main process)."""
        if self.accelerator.is_main_process:
            write_json_atomic(self.run.info, info)

    def finish(self, info: dict[str, Any], metrics: dict[str, Any], costs: Costs, *, card: Callable[[], ModelCard],
               report: tuple[ReportSections, str] | None = None) -> None:
        """Write the model card (``card()``, built on the main process), the metrics, the report (the task's
        sections and a title) and the finished ``run.json`` with ``costs``; ``info`` is updated in place."""
        if not self.accelerator.is_main_process:
            return
        write_model_card(self.run.model, card())
        size = sum(f.stat().st_size for f in self.run.model.rglob("*") if f.is_file())
        info.update(status="finished", finished_at=now(), **costs.fields(self.started),
                    model_size_mb=round(size / 2**20, 2))
        write_json_atomic(self.run.metrics, metrics)
        if report is not None:
            sections, title = report
            write_report(self.run.path, metrics, sections, title=title, run_info=report_info(info))
        write_json_atomic(self.run.info, info)
