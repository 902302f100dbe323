"""TPE ("bayes") against random search in `tumorscope tune`, on an objective with a known optimum.

Runs the real study code (SQLite storage, inner folds of a tiny synthetic dataset) with the trial's training
replaced by the formula of tests/train/tune_objectives.py (1 at lr 1e-3, width 16); prints the best score each
sampler reached per seed and their means. Usage:
  PYTHONPATH=$PWD nice -n 10 .venv/bin/python bench/tune_samplers.py [--trials 30] [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
from pathlib import Path

from tests.synthetic import write_kaggle3m
from tumorscope.options import TrainConfig
from tumorscope.train.tune_study import TuneOptions, tune

SPACE = "lr = {low = 1e-5, high = 1e-1, log = true}\nwidth = {low = 4, high = 64}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = write_kaggle3m(root / "data")
        (root / "space.toml").write_text(SPACE)
        best: dict[str, list[float]] = {}
        for search in ("random", "bayes"):
            for seed in range(args.seeds):
                base = TrainConfig(data=str(data), fold=0, seed=seed, val_fraction=0.34)
                opts = TuneOptions(search=search, trials=args.trials, metric="score", space=str(root / "space.toml"),
                                   objective="tests.train.tune_objectives:quadratic")
                best.setdefault(search, []).append(tune(base, opts, root / f"{search}{seed}")["best"]["value"])
                print(f"{search} seed {seed}: best {best[search][-1]:.4f}", flush=True)
    print(json.dumps({k: {"per_seed": [round(v, 4) for v in vs], "mean": round(statistics.mean(vs), 4)}
                      for k, vs in best.items()}, indent=2))


if __name__ == "__main__":
    main()
