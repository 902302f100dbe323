"""Run one stage of an experiment round described by experiments/rounds/ROUND.toml.

From the repository root:
  python experiments/run.py cls15 --folds 0            # the round's runs (fold 0 only), two cores busy
  python experiments/run.py cls15 --stage analyze      # its ensembles and comparisons
  python experiments/run.py cls16 --stage final --dry-run
  python experiments/run.py --list

Finished jobs are skipped (a CV fold with test_metrics.json, a training with bundle/config.json, a step's
``done`` file), and an interrupted one resumes, so a round can be run again to finish it.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `experiments` and `tumorscope` of this checkout

from experiments.jobs import plan, run_queue  # noqa: E402
from experiments.schema import STAGES, load_round  # noqa: E402
from tumorscope.errors import TumorscopeError  # noqa: E402

ROUNDS = Path(__file__).resolve().parent / "rounds"


def _natural(path: Path) -> list[int | str]:
    """cls9 before cls10: numbers compared as numbers."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.stem)]


def round_file(name: str) -> Path:
    """ROUND as a path to a .toml file, or the name of one in experiments/rounds/."""
    return Path(name) if name.endswith(".toml") else ROUNDS / f"{name}.toml"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="experiments/run.py", description=__doc__.split("\n")[0],
                                epilog="The round files and their keys: experiments/README.md")
    p.add_argument("round", nargs="?", help="round name (experiments/rounds/NAME.toml) or a .toml path")
    p.add_argument("--stage", choices=STAGES, default="runs", help="which list of the round to run "
                   "(default: %(default)s)")
    p.add_argument("--folds", type=int, nargs="+", metavar="F", help="only these CV folds")
    p.add_argument("--seeds", type=int, nargs="+", metavar="S", help="only these seeds")
    p.add_argument("--jobs", type=int, metavar="N", help="cores kept busy (default: the round's jobs, else 2)")
    p.add_argument("--dry-run", action="store_true", help="print the commands still to run; run nothing")
    p.add_argument("--list", action="store_true", help="list the rounds and their titles")
    args = p.parse_args(argv)
    try:
        if args.list:
            for f in sorted(ROUNDS.glob("*.toml"), key=_natural):
                print(f"{f.stem:8} {load_round(f).title}")
            return 0
        if not args.round:
            p.error("ROUND is required (or --list)")
        if args.jobs is not None and args.jobs < 1:
            p.error("--jobs must be at least 1")
        rnd = load_round(round_file(args.round))
        jobs = plan(rnd, args.stage, args.folds, args.seeds)
        return run_queue(jobs, args.jobs or rnd.jobs, dry_run=args.dry_run)
    except TumorscopeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
