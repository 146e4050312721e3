"""Where a tune's trials are kept: in memory, Optuna's journal file in the tune folder, or a database.

The journal file (``journal.log``) is appended under a file lock, so several ``finegrain tune --resume``
processes on one file system can share it; a database URL (``sqlite:///...``, ``postgresql://...``) does the
same across machines. A study records the fingerprint of the tune that made it (config, space, sampler): a
journal made by a different tune is refused unless ``--overwrite``, so trials of two searches never mix.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any

from finegrain.errors import RunDirError
from finegrain.training.run_dir import changed_keys

__all__ = ["JOURNAL_FILE", "open_study", "fail_orphaned_trials", "worker_name"]

JOURNAL_FILE = "journal.log"
_FINGERPRINT, _DESCRIBED = "finegrain_fingerprint", "finegrain_tune"
# what --overwrite deletes (data/ is written again by every run)
_OWNED = ("trials", "best", "best.yaml", "plots", "tune.json", "report.md", "report.html")


def storage_backend(root: Path, storage: str) -> Any:
    import optuna

    if storage == "memory":
        return optuna.storages.InMemoryStorage()
    if storage == "journal":
        root.mkdir(parents=True, exist_ok=True)
        backend = optuna.storages.journal.JournalFileBackend(str(root / JOURNAL_FILE))
        return optuna.storages.JournalStorage(backend)
    return storage  # a database URL: Optuna's RDB storage


def open_study(root: Path, storage: str, described: dict[str, Any], fingerprint: str, *, direction: str,
               sampler: Any, pruner: Any, resume: bool, overwrite: bool) -> Any:
    """The study of the tune in ``root``: new, or (``resume``) the one there if it was made by the same tune."""
    import optuna

    if overwrite:
        for entry in (*_OWNED, JOURNAL_FILE):
            _remove(root / entry)
    backend = storage_backend(root, storage)
    name = root.resolve().name
    existing = [summary.study_name for summary in optuna.get_all_study_summaries(backend)]
    if name in existing and overwrite:  # a database: the old study goes, as the journal file did
        optuna.delete_study(study_name=name, storage=backend)
    elif name in existing:
        _check_same(optuna.load_study(study_name=name, storage=backend), fingerprint, described, root, resume)
    if not resume and (root / "trials").is_dir() and any((root / "trials").iterdir()):
        raise RunDirError(f"'{root}' already holds the trials of a tune.",
                          hint="Add --resume to continue it, or --overwrite to start again (its trials are deleted).")
    study = optuna.create_study(storage=backend, study_name=name, direction=direction, sampler=sampler, pruner=pruner,
                                load_if_exists=True)
    study.set_user_attr(_FINGERPRINT, fingerprint)
    study.set_user_attr(_DESCRIBED, described)
    return study


def _check_same(study: Any, fingerprint: str, described: dict[str, Any], root: Path, resume: bool) -> None:
    stored = study.user_attrs.get(_FINGERPRINT)
    if stored is not None and stored != fingerprint:
        changed = sorted(changed_keys(study.user_attrs.get(_DESCRIBED, {}), described))
        shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
        raise RunDirError(f"the journal in '{root}' was made by a different tune (changed: {shown or 'unknown'}).",
                          where=str(root / JOURNAL_FILE),
                          hint="Use another --out folder for this search, or --overwrite to delete the old trials.")
    if not resume:
        raise RunDirError(f"'{root}' already holds this tune's journal ({len(study.trials)} trials).",
                          where=str(root / JOURNAL_FILE),
                          hint="Add --resume to continue it, or --overwrite to start again (its trials are deleted).")


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def worker_name() -> str:
    """This process, as a trial records who runs it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_orphaned_trials(study: Any) -> list[int]:
    """Mark as failed the trials left running by a process of this host that is gone (killed): a resumed tune
    would otherwise count them as running forever. Trials of live processes (parallel workers) are kept."""
    from optuna.trial import TrialState

    host, orphans = socket.gethostname(), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if worker_host == host and pid.isdigit() and not _alive(int(pid)):
            study.tell(trial.number, state=TrialState.FAIL)
            orphans.append(trial.number)
    return orphans


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True
