"""How a run directory ends, whatever ends the run.

- Finished: a run written with --overwrite (in ``.NAME.overwrite``, see run_dir.py) now takes the
  place of the run it replaces, in two renames.
- Failed or interrupted (any exception, Ctrl-C included): a replacement is discarded and the old run
  stays as it was; a run that never got to a model or a checkpoint, in folders this session created,
  is removed, so that it does not block the corrected command; any other run keeps its checkpoint for
  --resume and its ``run.json`` says ``failed`` (``interrupted`` for Ctrl-C), with the error and when.

What was done is added as a note to the exception (PEP 678), which the CLI shows for Ctrl-C; the
exception itself is raised again unchanged.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from accelerate import Accelerator

from finegrain.training.checkpoint import swap_in, write_json_atomic
from finegrain.training.run_dir import RunDir
from finegrain.training.run_record import now

__all__ = ["guard_run", "error_summary"]


@contextmanager
def guard_run(run: RunDir, accelerator: Accelerator) -> Iterator[None]:
    """Wrap everything a run does after its folder is open (``run`` as ``prepare_run_dir`` returned it)."""
    try:
        yield
    except BaseException as error:
        if accelerator.is_main_process:
            _after_failure(run, error)
        raise
    accelerator.wait_for_everyone()  # every process has read the new model before its folder moves
    if accelerator.is_main_process and run.replaces is not None:
        swap_in(run.path, run.replaces)


def error_summary(error: BaseException) -> str:
    lines = str(error).splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _after_failure(run: RunDir, error: BaseException) -> None:
    try:
        if run.replaces is not None:
            shutil.rmtree(run.path)
            error.add_note(f"the replacement run was discarded; the run in '{run.replaces}' is unchanged.")
        elif run.created is not None and not run.has_progress():
            shutil.rmtree(run.created)
            error.add_note(f"it had no checkpoint yet, so '{run.created}' was removed; run the command again.")
        elif run.info.is_file() and not run.is_finished():
            info = json.loads(run.info.read_text(encoding="utf-8"))
            interrupted = isinstance(error, KeyboardInterrupt)
            info.update(status="interrupted" if interrupted else "failed", error=error_summary(error), ended_at=now())
            write_json_atomic(run.info, info)
    except (OSError, ValueError):  # the error that stopped the run is the one to report, not this one
        pass
