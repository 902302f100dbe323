"""``tumorscope federated simulate``: one machine plays every site. The patients are split once into held-out
patients and training patients (``splits.json``); the training patients are grouped into sites by their TCGA
institution code; a Flower server and one client process per site then run FedAvg over loopback gRPC, and
the final global model is scored on the held-out patients (per-patient Dice with bootstrap CIs)."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tumorscope.atomic import write_json
from tumorscope.bundle import load_bundle
from tumorscope.data.dataset import load_dataset
from tumorscope.data.splits import select
from tumorscope.data.volumes import load_stacks
from tumorscope.errors import TumorscopeError
from tumorscope.options import TrainConfig
from tumorscope.train.federated_local import score
from tumorscope.train.federated_sites import sites, write_holdout
from tumorscope.train.flower import require_flwr

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def simulate(cfg: TrainConfig, rounds: int, local_epochs: int, test_fraction: float = 0.2,
             min_site_patients: int = 1, timeout: float = 24 * 3600) -> dict[str, Any]:
    """Run the whole simulation into ``cfg.out``: splits.json, config.json, logs/, bundle/, server.json and
    metrics.json (the global model on the held-out patients, plus the sites)."""
    require_flwr()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(cfg.data)
    split = write_holdout(ds, out / "splits.json", test_fraction, cfg.seed)
    by_site = sites(select(ds, split, "train"), min_site_patients)
    if len(by_site) < 2:
        raise TumorscopeError(f"federated simulation needs >= 2 sites, found {len(by_site)} "
                              f"({', '.join(by_site) or 'none'})", ds.root)
    write_json(out / "config.json", cfg.to_dict())
    address = f"127.0.0.1:{free_port()}"
    common = ["--config", str(out / "config.json"), "--local-epochs", str(local_epochs)]
    t0 = time.monotonic()
    server = _spawn(out, "server", ["server", *common, "--address", address, "--rounds", str(rounds),
                                    "--min-clients", str(len(by_site)), "-o", str(out)])
    clients = [_spawn(out, f"site_{code}", ["client", *common, "--server", address, "--data", cfg.data, "--splits",
                                            str(out / "splits.json"), "--site", code,
                                            "--min-site-patients", str(min_site_patients)])
               for code in by_site]
    _wait([server, *clients], timeout)
    seconds = time.monotonic() - t0
    bundle = load_bundle(out / "bundle", verify=False)
    test = load_stacks(select(ds, split, "test"), desc="reading held-out patients")
    metrics = score(bundle.model, cfg, test, int(bundle.config["model"]["in_channels"])) | {
        "federated": {"strategy": "FedAvg", "rounds": rounds, "local_epochs": local_epochs, "wall_seconds": seconds,
                      "sites": {code: _count(samples) for code, samples in by_site.items()},
                      "held_out_patients": len(test)},
    }
    write_json(out / "metrics.json", metrics)
    return metrics


def _count(samples: list[Any]) -> dict[str, int]:
    return {"patients": len({s.patient_id for s in samples}), "slices": len(samples)}


def _spawn(out: Path, name: str, args: list[str]) -> tuple[str, subprocess.Popen[bytes], Path]:
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    path = logs / f"{name}.log"
    with path.open("wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "tumorscope", "federated", *args], stdout=f,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return name, proc, path


def _wait(procs: list[tuple[str, subprocess.Popen[bytes], Path]], timeout: float) -> None:
    """Wait for every process; on the first failure (or the timeout) stop the others and say which failed."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            codes = [(name, p.poll(), path) for name, p, path in procs]
            failed = [(name, path) for name, code, path in codes if code not in (None, 0)]
            if failed:
                name, path = failed[0]
                raise TumorscopeError(f"federated {name} failed (last line: {_last_line(path)!r})", path)
            if all(code == 0 for _, code, _ in codes):
                return
            if time.monotonic() > deadline:
                raise TumorscopeError(f"federated simulation still running after {timeout:.0f} s", procs[0][2])
            time.sleep(0.5)
    finally:
        for _, p, _ in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)


def _last_line(path: Path) -> str:
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1][-200:] if lines else ""
