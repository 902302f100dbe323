"""Federated training of the segmentation network with Flower (``flwr``): a NumPyClient per site that trains
E local epochs on data that never leaves it, and a server running Flower's FedAvg (weighted by each site's
number of training slices) that writes the final global model as a bundle.

Flower is an optional extra kept out of the main environment (it pins its own FastAPI / Ray / protobuf):
``make fl-env`` builds ``.venv-fl`` with it; it is imported on use (tumorscope.train.flower). The server and
clients are Flower's plain gRPC processes (no Ray: Flower's simulation engine is not used).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tumorscope.atomic import write_json
from tumorscope.data.dataset import load_dataset
from tumorscope.data.volumes import load_stacks
from tumorscope.errors import TumorscopeError
from tumorscope.options import TrainConfig
from tumorscope.train.federated_local import SiteTrainer, get_weights, global_model, save_global, set_weights
from tumorscope.train.federated_sites import site_samples
from tumorscope.train.flower import require_flwr

log = logging.getLogger(__name__)

def site_client(trainer: SiteTrainer, local_epochs: int) -> Any:
    """A Flower NumPyClient for one site: ``fit`` loads the global weights, trains ``local_epochs`` (or the
    round's ``local_epochs`` config) and returns the new weights with the site's number of slices."""
    fl = require_flwr()

    class SiteClient(fl.client.NumPyClient):  # type: ignore[misc,name-defined]
        def get_parameters(self, config: dict[str, Any]) -> list[Any]:
            return get_weights(trainer.model)

        def fit(self, parameters: list[Any], config: dict[str, Any]) -> tuple[list[Any], int, dict[str, Any]]:
            set_weights(trainer.model, parameters)
            epochs = int(config.get("local_epochs", local_epochs))
            loss = trainer.train_epochs(epochs)
            log.info("round %s: %d local epoch(s), loss %.4f", config.get("round", "?"), epochs, loss)
            return get_weights(trainer.model), trainer.examples, {"loss": loss, "in_channels": trainer.in_channels}

        def evaluate(self, parameters: list[Any], config: dict[str, Any]) -> tuple[float, int, dict[str, Any]]:
            return 0.0, trainer.examples, {}  # sites do not score: the held-out patients are scored centrally

    return SiteClient()


def run_client(cfg: TrainConfig, server: str, local_epochs: int, splits: str | None = None,
               site: str | None = None, min_site_patients: int = 1) -> None:
    """One site: read its training patients (``site``: only that institution of the ``train`` part of
    ``splits``), then take part in every round the server at ``server`` (HOST:PORT) runs."""
    fl = require_flwr()
    ds = load_dataset(cfg.data)
    samples = site_samples(ds, splits, site, min_site_patients)
    stacks = load_stacks(samples, desc=f"reading site {site or ds.root.name}")
    trainer = SiteTrainer(cfg, stacks)
    log.info("site %s: %d patients, %d slices", site or ds.root.name, len(stacks), trainer.examples)
    fl.client.start_client(server_address=server, client=site_client(trainer, local_epochs).to_client())


def fedavg_strategy(min_clients: int, local_epochs: int) -> Any:
    """Flower's FedAvg (weighted by examples) that waits for ``min_clients`` sites every round, skips
    federated evaluation and keeps the last aggregate and the per-round mean site loss."""
    fl = require_flwr()

    class KeepingFedAvg(fl.server.strategy.FedAvg):  # type: ignore[misc,name-defined]
        final: Any = None
        in_channels: int = 0
        rounds: list[dict[str, Any]] = []

        def aggregate_fit(self, server_round: int, results: list[Any], failures: list[Any]) -> Any:
            if failures:
                raise TumorscopeError(f"round {server_round}: {len(failures)} site(s) failed")
            params, metrics = super().aggregate_fit(server_round, results, failures)
            if params is not None:
                self.final = params
                fits = [r for _, r in results]
                n = sum(f.num_examples for f in fits)
                self.in_channels = int(fits[0].metrics["in_channels"])
                self.rounds = [*self.rounds, {"round": server_round, "sites": len(fits), "examples": n,
                                              "loss": float(metrics["loss"])}]
                log.info("round %d: %d sites, mean loss %.4f", server_round, len(fits), self.rounds[-1]["loss"])
            return params, metrics

    return KeepingFedAvg(
        fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=min_clients, min_available_clients=min_clients,
        min_evaluate_clients=0, accept_failures=False,
        on_fit_config_fn=lambda rnd: {"round": rnd, "local_epochs": local_epochs},
        fit_metrics_aggregation_fn=_mean_loss,
    )


def _mean_loss(results: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """The sites' last local-epoch losses, weighted by their numbers of examples."""
    n = sum(k for k, _ in results)
    return {"loss": sum(k * float(m["loss"]) for k, m in results) / n}


def run_server(cfg: TrainConfig, address: str, rounds: int, local_epochs: int, min_clients: int,
               out: Path) -> Path:
    """Run ``rounds`` FedAvg rounds with ``min_clients`` sites; write the global model to ``out/bundle`` and
    the rounds to ``out/server.json``."""
    fl = require_flwr()
    out.mkdir(parents=True, exist_ok=True)
    strategy = fedavg_strategy(min_clients, local_epochs)
    fl.server.start_server(server_address=address, config=fl.server.ServerConfig(num_rounds=rounds),
                           strategy=strategy)
    if strategy.final is None:
        raise TumorscopeError("the federated run ended without an aggregated model (did every site connect?)", out)
    weights = fl.common.parameters_to_ndarrays(strategy.final)
    model = global_model(cfg, strategy.in_channels, weights)
    result = {"strategy": "FedAvg", "rounds": rounds, "local_epochs": local_epochs, "sites": min_clients,
              "history": strategy.rounds}
    bundle = save_global(out, cfg, model, strategy.in_channels, result)
    write_json(out / "server.json", result | {"in_channels": strategy.in_channels})
    return bundle
