"""Studies: compare methods over training sizes and seeds, with intervals, paired tests and a report."""

from finegrain.study.config import StudyConfig, load_study_config
from finegrain.study.runner import StudyResult, rebuild_report, run_study

__all__ = ["StudyConfig", "StudyResult", "load_study_config", "rebuild_report", "run_study"]
