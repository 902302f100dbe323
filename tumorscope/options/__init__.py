"""Typed run options, defined once: checks, command-line arguments, exact commands and saved configs.

``TrainConfig`` (common, segmentation and classification option groups) and ``PretrainConfig`` declare each
option with its type, default (per task where tasks differ), choices or range and help; ``add_arguments``
generates the argparse arguments from them, ``to_argv`` prints the exact command and ``parse`` reads it back.
"""

from tumorscope.options.argv import add_arguments, config_from_args, parse, shell_join, to_argv
from tumorscope.options.pretrain import PretrainConfig
from tumorscope.options.saved import SavedConfig
from tumorscope.options.spec import Choices, Interval, Option, format_duration, option, parse_duration
from tumorscope.options.train import TrainConfig

__all__ = ["Choices", "Interval", "Option", "PretrainConfig", "SavedConfig", "TrainConfig", "add_arguments",
           "config_from_args", "format_duration", "option", "parse", "parse_duration", "shell_join", "to_argv"]
