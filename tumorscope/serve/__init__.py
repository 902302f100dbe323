"""``tumorscope serve``: the REST service (FastAPI under uvicorn) with accounts, a persistent job queue,
an append-only audit trail, Prometheus metrics and drift monitoring. See docs/service.md."""
