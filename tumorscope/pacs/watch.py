"""``tumorscope pacs watch``: find new series on a PACS (QIDO-RS), retrieve them (WADO-RS), segment them with the
matching model and store DICOM SEG + SR + overlay back into the same study (STOW-RS).

Nothing is lost or done twice across crashes: series wait in the persisted :class:`SeriesQueue`; each series'
result folder (``DATA_DIR/pacs/<row>/result``) is written atomically, so a retry after a crash that follows the
prediction only stores it; the outputs' UIDs derive from the series and the model version, so storing them again
gives the PACS the same instances, never a second copy. With ``deid`` the model (and every file the watcher keeps)
sees a de-identified copy; the outputs still reference the original instances, so they join the original study.
Log lines name a series by its queue row, never by header text (descriptions can hold PHI).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pydicom
from pydicom.dataset import Dataset

from tumorscope.bundle import Bundle, load_bundle, zoo_models
from tumorscope.bundle.version import model_version, weights_sha256
from tumorscope.errors import TumorscopeError
from tumorscope.pacs.dicom_out import Uids, write_dicom_outputs
from tumorscope.pacs.dicomweb import (
    TIMEOUT,
    DicomwebError,
    connect,
    first_instance,
    pull_series,
    push_files,
    search_series,
)
from tumorscope.pacs.queue import SeriesQueue, describe
from tumorscope.pacs.select import Rule, rejection, server_filters
from tumorscope.serve.db import PacsSeries, Prediction, utcnow
from tumorscope.serve.settings import Settings

log = logging.getLogger(__name__)
WATCHER = "pacs-watch"  # the user name its results carry in the service
_NOT_IMAGES = {"SEG", "SR", "KO", "PR", "REG", "RTSTRUCT", "RTPLAN", "RTDOSE", "DOC"}  # skipped without a request


@dataclass
class WatchOptions:
    """``pacs watch``'s options (see its ``--help``)."""

    url: str
    data_dir: Path
    model: str = "auto"
    rules: list[Rule] = field(default_factory=list)
    interval: float = 30.0
    deid: bool = False
    salt: str | None = None
    dates: str = "shift"
    timeout: float | tuple[float, float] = TIMEOUT


def prediction_id(series_uid: str, version: str) -> str:
    """The service's prediction id of a series' result: the same for the same series and model version."""
    return hashlib.sha256(f"pacs/{series_uid}/{version}".encode()).hexdigest()[:32]


def server_name(url: str) -> str:
    """The PACS as the queue records it: scheme, host, port and path, never a user name or password."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"[:256]


class Watcher:
    """One watcher process: :meth:`discover` queues new series, :meth:`process` runs one, :meth:`run` loops."""

    def __init__(self, options: WatchOptions, queue: SeriesQueue) -> None:
        self.opts, self.queue = options, queue
        self.client = connect(options.url, options.timeout)
        self.source = server_name(options.url)
        self._bundles: dict[str, Bundle] = {}
        self._chosen = self._load(options.model) if options.model != "auto" else None
        self._passed: set[str] = set()  # series not taken, asked about once per process
        self.stopping = False

    # which model ------------------------------------------------------------------------------------------
    def _load(self, name: str) -> Bundle:
        bundle = load_bundle(name)
        if bundle.task != "segmentation":
            raise TumorscopeError(f"pacs watch stores segmentations: {bundle.name} is a {bundle.task} model")
        self._bundles[bundle.name] = bundle
        return bundle

    def model_for(self, modality: str) -> Bundle | None:
        """``--model``'s bundle, or with ``auto`` the first bundled segmentation model made for ``modality``."""
        if self._chosen is not None:
            return self._chosen
        for bundle in zoo_models():
            if bundle.task == "segmentation" and str(bundle.config.get("modality", "")).upper() == modality.upper():
                self._bundles.setdefault(bundle.name, bundle)
                return self._bundles[bundle.name]
        return None

    def _bundle(self, row: PacsSeries) -> Bundle:
        bundle = self._bundles.get(row.model) or self._load(row.model)
        if model_version(bundle) != row.model_version:
            raise TumorscopeError(f"series #{row.id} was queued for {row.model} {row.model_version}, but "
                                  f"{model_version(bundle)} is installed")
        return bundle

    # finding series -----------------------------------------------------------------------------------------
    def discover(self) -> int:
        """Queue every new series that the rules take and a model can read; returns how many were added."""
        found = search_series(self.client, self.opts.url, server_filters(self.opts.rules))
        added, known = 0, dict[str, set[str]]()
        for ds in found:
            series_uid, study_uid = str(ds.get("SeriesInstanceUID", "")), str(ds.get("StudyInstanceUID", ""))
            modality = str(ds.get("Modality", "") or "")
            if not series_uid or not study_uid or series_uid in self._passed:
                continue
            bundle = self.model_for(modality) if modality.upper() not in _NOT_IMAGES else None
            if bundle is None:
                self._pass(series_uid, f"no segmentation model for modality {modality or 'unknown'}"
                           if modality.upper() not in _NOT_IMAGES else None)
                continue
            version = model_version(bundle)
            if series_uid in known.setdefault(version, self.queue.known(version)):
                continue
            header = first_instance(self.client, self.opts.url, study_uid, series_uid)
            reason = rejection(self.opts.rules, _attributes(ds, header)) if header is not None else "no instances"
            if reason:
                self._pass(series_uid, reason)
                continue
            if self.queue.add(study_uid, series_uid, modality, bundle.name, version, self.source):
                added += 1
        if added:
            log.info("queued %d new series", added)
        return added

    def _pass(self, series_uid: str, reason: str | None) -> None:
        self._passed.add(series_uid)
        if reason:
            log.info("a series is not taken: %s", reason)

    # one series ---------------------------------------------------------------------------------------------
    def process(self, row: PacsSeries) -> str:
        """Run one claimed row to its next state (done, queued again for a retry, or failed); returns it."""
        work = self.opts.data_dir / "pacs" / str(row.id)
        pid = prediction_id(row.series_uid, row.model_version)
        result = Settings(data_dir=self.opts.data_dir).results / pid
        try:
            self._result(row, work, result)
            self.queue.renew(row.id)
            summary = json.loads((result / "summary.json").read_text())
            outcome = self._store(row, result, summary)
        except DicomwebError as exc:
            return self._failed(row, str(exc), permanent=False)
        except TumorscopeError as exc:
            return self._failed(row, str(exc), permanent=True)
        except OSError as exc:
            return self._failed(row, f"{type(exc).__name__}: {exc.strerror or exc}", permanent=False)
        prediction = Prediction(
            id=pid, status="done", model=row.model, model_version=row.model_version,
            weights_sha256=weights_sha256(self._bundle(row)), input_kind="pacs",
            input_sha256=hashlib.sha256(f"dicom-series:{row.series_uid}".encode()).hexdigest(),
            options={"source": "pacs watch", "queue_row": row.id}, user=WATCHER, attempts=1, result_dir=pid,
            result=summary, created_at=row.created_at, started_at=row.updated_at, finished_at=utcnow())
        if not self.queue.finish(row.id, outcome, prediction):
            log.warning("series #%d: another watcher took it over; its result stays with that one", row.id)
            return "lost"
        # the pulled originals go; with deid so do the stored outputs (they carry the original patient module)
        for folder in (work, result / "dicom" if self.opts.deid else None):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        log.info("series #%d (%s): %s", row.id, row.modality, describe(outcome))
        return "done"

    def _failed(self, row: PacsSeries, error: str, permanent: bool) -> str:
        state = self.queue.fail(row.id, error, permanent)
        log.warning("series #%d: %s%s", row.id, error,
                    "" if state == "failed" else " (will retry)")
        return state

    def _result(self, row: PacsSeries, work: Path, result: Path) -> None:
        """Compute the row's result folder (the service's layout: mask, overlays, viewer volumes, DICOM outputs,
        summary.json), unless an earlier try left it complete."""
        if (result / "summary.json").is_file():
            return
        from tumorscope.predict.inputs import read_input
        from tumorscope.predict.outputs import write_segmentation_result
        from tumorscope.predict.segmentation import segment
        from tumorscope.serve.volumes import write_viewer

        bundle = self._bundle(row)
        originals = pull_series(self.client, self.opts.url, row.study_uid, row.series_uid, work / "source")
        self.queue.renew(row.id)
        seen, to_original = self._model_view(work, originals)
        inp = read_input(seen)
        prob, mask = segment(bundle, inp, bundle.postprocess)
        files = [to_original(Path(f)) for f in inp.volume.metadata["files"]] if inp.volume is not None else []
        if not files:
            raise TumorscopeError(f"series #{row.id} did not read as one DICOM series")

        def extra(folder: Path, summary: dict[str, Any]) -> dict[str, Any]:
            found = write_dicom_outputs(files, mask, summary, bundle, folder / "dicom",
                                        uid_seed=_uid_seed(row))
            return {**found, **write_viewer(folder, inp, mask)}

        shown = replace(inp, path=Path(f"pacs series #{row.id}"))  # not a temporary path, nor header text
        write_segmentation_result(bundle, shown, prob, mask, result, bundle.postprocess, extra=extra)

    def _model_view(self, work: Path, originals: list[Path]) -> tuple[Path, Callable[[Path], Path]]:
        """The folder the model reads (the pulled series, or its de-identified copy) and how a file there maps
        back to the pulled original (de-identified files are named by their new SOP Instance UID)."""
        if not self.opts.deid:
            return work / "source", lambda p: p
        from tumorscope.pacs.deid import deidentify_tree, map_uid

        salt = str(self.opts.salt)
        if not (work / "deid").is_dir():  # written all or nothing: a complete copy from an earlier try is kept
            deidentify_tree(work / "source", work / "deid", salt, self.opts.dates)  # type: ignore[arg-type]
        names = {f"{map_uid(f.stem, salt)}.dcm": f for f in originals}  # pulled files are <SOPInstanceUID>.dcm
        return work / "deid", lambda p: names[p.name]

    def _store(self, row: PacsSeries, result: Path, summary: dict[str, Any]) -> dict[str, Any]:
        """STOW-RS the result's DICOM outputs into the series' study; returns what the queue records."""
        outputs = result / "dicom"
        stored = push_files(self.opts.url, [outputs], self.client) if outputs.is_dir() else 0
        return {
            "tumor_found": summary["tumor_found"], "volume_mm3": summary.get("volume_mm3"),
            "lesions": len(summary.get("lesions") or []), "n_slices": summary.get("n_slices"), "stored": stored,
            "seg_series_uid": str(Uids(_uid_seed(row))("seg-series")) if (outputs / "seg.dcm").is_file() else None,
            "finished": utcnow().isoformat(timespec="seconds"),
        }

    # the loop ---------------------------------------------------------------------------------------------
    def run(self, once: bool = False, sleep: Callable[[float], None] = time.sleep) -> dict[str, int]:
        """Discover and process until stopped (SIGTERM or SIGINT finish the current series first); with ``once``,
        until nothing is pending (failed tries wait their backoff). Returns the queue's counts."""
        freed = self.queue.recover()
        if freed:
            log.info("took back %d series left running by a watcher that stopped", freed)
        self._on_signals()
        next_look, misses = 0.0, 0
        while not self.stopping:
            if time.monotonic() >= next_look:
                try:
                    self.discover()
                    misses, next_look = 0, time.monotonic() + self.opts.interval
                except DicomwebError as exc:
                    misses += 1
                    if once and misses >= self.queue.retry.max_attempts:
                        raise
                    wait = self.queue.retry.delay(misses)
                    log.warning("%s (looking again in %.0f s)", exc, wait)
                    next_look = time.monotonic() + wait
                    if once:
                        sleep(wait)
                        continue
            row = self.queue.claim()
            if row is not None:
                self.process(row)
                continue
            due = self.queue.next_due(include_running=not once)  # once: others' running rows are theirs
            if once and due is None and misses == 0:
                break
            wait_due = (due - utcnow()).total_seconds() if due is not None else float("inf")
            sleep(max(0.05, min(wait_due, next_look - time.monotonic(), 5.0 if once else self.opts.interval)))
        return self.queue.counts()

    def _on_signals(self) -> None:
        def stop(_signum: int, _frame: Any) -> None:
            if self.stopping:
                raise KeyboardInterrupt
            self.stopping = True
            log.info("stopping after the current series (again to stop now)")

        try:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        except ValueError:  # not the main thread (a test): the caller stops us
            pass


def _attributes(series: Dataset, header: Dataset) -> dict[str, Any]:
    """What the rules look at: series-level answers, completed from one instance's header."""
    def value(key: str) -> Any:
        v = series.get(key) or header.get(key)
        return list(v) if isinstance(v, pydicom.multival.MultiValue) else v

    return {key: value(key) for key in ("Modality", "SeriesDescription", "ImageType", "BodyPartExamined",
                                        "SliceThickness", "SOPClassUID")}


def _uid_seed(row: PacsSeries) -> str:
    """What every UID of a series' outputs derives from (:class:`~tumorscope.pacs.dicom_out.Uids`)."""
    return f"{row.series_uid}/{row.model_version}"


__all__ = ["WatchOptions", "Watcher", "server_name"]
