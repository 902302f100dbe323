"""Run configurations, defined in :mod:`tumorscope.options` (re-exported here for the trainers)."""

from tumorscope.options import PretrainConfig, SavedConfig, TrainConfig, parse_duration
from tumorscope.options.describe import PRETRAIN_SUMMARY, is_pretrain_run

__all__ = ["PRETRAIN_SUMMARY", "PretrainConfig", "SavedConfig", "TrainConfig", "is_pretrain_run", "parse_duration"]
