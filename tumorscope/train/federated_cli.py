"""``tumorscope federated simulate|server|client|baseline`` (docs/federated.md). Importing this module stays
cheap (no torch, no flwr): the work is imported when a command runs."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from tumorscope.errors import TumorscopeError
from tumorscope.train.flower import require_flwr

_EPILOG = """\
examples (Flower lives in its own environment: `make fl-env`, then .venv-fl/bin/tumorscope):
  # every site on this machine: LGG patients split by TCGA institution, 20% of patients held out
  tumorscope federated simulate --data ../shared/data/lgg_mri_segmentation --rounds 5 --local-epochs 2 -o runs/fed
  # the same budget without federation, scored on the same held-out patients
  tumorscope federated baseline --mode centralised --splits runs/fed/splits.json --config runs/fed/config.json \\
      --data ../shared/data/lgg_mri_segmentation --epochs 10 -o runs/fed_central
  # a real deployment: the coordinator, then at each hospital a client on its own data
  tumorscope federated server --config fed_config.json --rounds 5 --local-epochs 2 --min-clients 3 \\
      --address 0.0.0.0:8080 -o runs/fed_global
  tumorscope federated client --config fed_config.json --local-epochs 2 --data /data/site --server HOST:8080"""

# training options every party must share (or take from one --config file)
_TRAIN_OPTIONS: tuple[tuple[str, type, str], ...] = (
    ("--model", str, "segmentation network (default unet2d)"),
    ("--width", int, "channels of the first network stage (default 16)"),
    ("--size", int, "network input size in pixels (default 128)"),
    ("--batch-size", int, "slices per batch (default 16)"),
    ("--lr", float, "AdamW learning rate, constant over rounds (default 2e-3)"),
    ("--loss", str, "segmentation loss (default: the trainer's)"),
    ("--channels", str, "input channels (default: the trainer's)"),
    ("--augment", str, "augmentation level (default: default)"),
    ("--seed", int, "seed of the held-out split and the initial weights (default 0)"),
    ("--threads", int, "torch CPU threads per process"),
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("federated", help="federated training across sites whose data cannot leave them (Flower)",
                       description="FedAvg training of the segmentation network with Flower: a server and one "
                       "client per site; a simulation on one machine; the centralised and site-local baselines.",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = p.add_subparsers(dest="federated_command", metavar="COMMAND", required=True)
    sim = _with_train_options(cmds.add_parser("simulate", help="every site as a local process on loopback"))
    sim.add_argument("--data", required=True, metavar="DIR")
    sim.add_argument("-o", "--out", required=True, metavar="DIR")
    sim.add_argument("--rounds", type=int, default=5)
    sim.add_argument("--test-fraction", type=float, default=0.2, help="patients held out for scoring")
    sim.set_defaults(func=_cmd_simulate)
    srv = _with_train_options(cmds.add_parser("server", help="the coordinator: FedAvg rounds, writes the bundle"))
    srv.add_argument("--address", default="0.0.0.0:8080", metavar="HOST:PORT")
    srv.add_argument("--rounds", type=int, default=5)
    srv.add_argument("--min-clients", type=int, required=True, help="sites that must join every round")
    srv.add_argument("-o", "--out", required=True, metavar="DIR")
    srv.set_defaults(func=_cmd_server)
    cli = _with_train_options(cmds.add_parser("client", help="one site: trains on its own data each round"))
    cli.add_argument("--data", required=True, metavar="DIR", help="this site's dataset")
    cli.add_argument("--server", required=True, metavar="HOST:PORT")
    cli.add_argument("--splits", help="train only on the train part of this splits.json (a simulation's)")
    cli.add_argument("--site", help="only the patients of this TCGA institution code (a simulation's site)")
    cli.set_defaults(func=_cmd_client)
    base = _with_train_options(cmds.add_parser("baseline", help="centralised / site-local training on the "
                                               "held-out split of a simulation"))
    base.add_argument("--mode", required=True, choices=("centralised", "local"))
    base.add_argument("--data", required=True, metavar="DIR")
    base.add_argument("--splits", required=True, help="the simulation's splits.json")
    base.add_argument("--epochs", type=int, required=True, help="rounds x local epochs of the federated run")
    base.add_argument("--only-sites", nargs="*", help="local: train only these sites")
    base.add_argument("-o", "--out", required=True, metavar="DIR")
    base.set_defaults(func=_cmd_baseline)


def _with_train_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--config", help="training options from this config.json (a simulation writes one)")
    for flag, kind, text in _TRAIN_OPTIONS:
        p.add_argument(flag, type=kind, default=argparse.SUPPRESS, help=text)
    p.add_argument("--local-epochs", type=int, default=1, help="epochs each site trains per round")
    p.add_argument("--min-site-patients", type=int, default=1,
                   help="institutions with fewer patients are pooled into the site 'other'")
    return p


def train_config(args: argparse.Namespace) -> Any:
    """The TrainConfig of a federated command: --config, then the options given on the command line."""
    from tumorscope.options import TrainConfig

    given = {flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_"))
             for flag, _, _ in _TRAIN_OPTIONS if hasattr(args, flag[2:].replace("-", "_"))}
    given["task"] = "segmentation"
    if getattr(args, "data", None):
        given["data"] = str(args.data)
    if getattr(args, "out", None):
        given["out"] = str(args.out)
    if args.config:
        return replace(TrainConfig.load(args.config), **given)
    return TrainConfig(**given)


def _positive(**values: int) -> None:
    for name, v in values.items():
        if v < 1:
            raise TumorscopeError(f"--{name.replace('_', '-')} must be >= 1, got {v}")


def _cmd_simulate(args: argparse.Namespace) -> int:
    require_flwr()  # before torch is imported: say at once what is missing
    from tumorscope.train.federated_simulate import simulate

    _positive(rounds=args.rounds, local_epochs=args.local_epochs)
    metrics = simulate(train_config(args), args.rounds, args.local_epochs, args.test_fraction,
                       args.min_site_patients)
    print(json.dumps({"dice_mean": metrics["dice_mean"], **metrics["federated"]}, indent=2))
    print(f"global model: {Path(args.out) / 'bundle'}  metrics: {Path(args.out) / 'metrics.json'}")
    return 0


def _cmd_server(args: argparse.Namespace) -> int:
    require_flwr()  # before torch is imported: say at once what is missing
    from tumorscope.train.federated import run_server

    _positive(rounds=args.rounds, local_epochs=args.local_epochs, min_clients=args.min_clients)
    bundle = run_server(train_config(args), args.address, args.rounds, args.local_epochs, args.min_clients,
                        Path(args.out))
    print(f"global model: {bundle}")
    return 0


def _cmd_client(args: argparse.Namespace) -> int:
    require_flwr()  # before torch is imported: say at once what is missing
    from tumorscope.train.federated import run_client

    _positive(local_epochs=args.local_epochs)
    run_client(train_config(args), args.server, args.local_epochs, args.splits, args.site, args.min_site_patients)
    return 0


def _cmd_baseline(args: argparse.Namespace) -> int:
    from tumorscope.train.federated_baseline import baseline

    _positive(epochs=args.epochs)
    summary = baseline(train_config(args), args.splits, args.mode, args.epochs, args.min_site_patients,
                       args.only_sites)
    print(json.dumps(summary, indent=2))
    return 0
