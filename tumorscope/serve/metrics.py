"""Prometheus metrics for ``GET /metrics``: requests and latencies by route, queue length, predictions by
model and outcome, and drift statistics per model and feature (from the drift monitor)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _Drift(Collector):
    """Reads the drift report at scrape time, so the numbers are never stale."""

    def __init__(self, report: Callable[[], dict[str, Any]]) -> None:
        self.report = report

    def collect(self) -> Iterator[GaugeMetricFamily]:
        psi = GaugeMetricFamily("tumorscope_drift_psi", "population stability index of live vs reference values",
                                labels=["model", "feature"])
        ks = GaugeMetricFamily("tumorscope_drift_ks_statistic", "two-sample Kolmogorov-Smirnov statistic",
                               labels=["model", "feature"])
        pval = GaugeMetricFamily("tumorscope_drift_ks_pvalue", "Kolmogorov-Smirnov p-value",
                                 labels=["model", "feature"])
        flag = GaugeMetricFamily("tumorscope_drift_detected", "1 when the feature drifted from the reference",
                                 labels=["model", "feature"])
        live = GaugeMetricFamily("tumorscope_drift_live_samples", "live values in the monitor's window",
                                 labels=["model"])
        for model, entry in self.report().items():
            live.add_metric([model], entry.get("n_live", 0))
            for feature, st in entry.get("features", {}).items():
                for family, key in ((psi, "psi"), (ks, "ks"), (pval, "ks_pvalue")):
                    if st.get(key) is not None:
                        family.add_metric([model, feature], float(st[key]))
                flag.add_metric([model, feature], 1.0 if st.get("drift") else 0.0)
        yield from (psi, ks, pval, flag, live)


class Metrics:
    """The service's registry (its own, so several apps in one process never share counters)."""

    def __init__(self, queue_length: Callable[[], int], drift: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("tumorscope_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("tumorscope_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.predictions = Counter("tumorscope_predictions_total", "finished predictions", ["model", "outcome"],
                                   registry=self.registry)
        queue = Gauge("tumorscope_queue_length", "predictions waiting for a worker", registry=self.registry)
        queue.set_function(queue_length)
        self.registry.register(_Drift(drift))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def prediction_finished(self, model: str, outcome: str) -> None:
        self.predictions.labels(model, outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
