"""Sites of a federated simulation: TCGA patients grouped by the institution code of their id
(``TCGA_XX_NNNN_DATE``: ``XX`` is the tissue source site), and one fixed, patient-level held-out part that
every compared training (FedAvg, centralised, site-local) is scored on."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from tumorscope.data.dataset import Dataset
from tumorscope.data.sample import Sample
from tumorscope.data.splits import Split, load_splits, make_split, save_splits, select
from tumorscope.errors import TumorscopeError

_TCGA = re.compile(r"^TCGA[-_]([A-Z0-9]{2})[-_]")
OTHER = "other"  # the pooled site of institutions with too few patients to train alone


def site_of(patient_id: str | None) -> str:
    """The institution code of a TCGA patient id (``TCGA_CS_4941_19960909`` -> ``CS``)."""
    match = _TCGA.match(patient_id or "")
    if match is None:
        raise TumorscopeError(f"patient {patient_id!r} has no TCGA institution code (TCGA_XX_...): "
                              "cannot tell its site")
    return match.group(1)


def holdout_split(ds: Dataset, test_fraction: float, seed: int) -> Split:
    """Patients held out for scoring (``test``) and the rest (``train``), stratified, fixed by ``seed``."""
    return make_split(ds, val=0.0, test=test_fraction, seed=seed)


def sites(samples: list[Sample], min_patients: int = 1) -> dict[str, list[Sample]]:
    """Samples per institution code; institutions with fewer than ``min_patients`` patients are pooled
    into the site ``other`` (dropped if that pool is still too small)."""
    by_site: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_site[site_of(s.patient_id)].append(s)
    kept: dict[str, list[Sample]] = {}
    pooled: list[Sample] = []
    for code in sorted(by_site):
        if _patients(by_site[code]) >= min_patients:
            kept[code] = by_site[code]
        else:
            pooled.extend(by_site[code])
    if pooled and _patients(pooled) >= min_patients:
        kept[OTHER] = pooled
    return kept


def site_samples(ds: Dataset, split_file: str | Path | None, site: str | None,
                 min_patients: int = 1) -> list[Sample]:
    """The training samples one client holds: the ``train`` part of ``split_file`` (else the whole dataset),
    of institution ``site`` (else all of them)."""
    samples = select(ds, load_splits(split_file)[0], "train") if split_file else list(ds.samples)
    if site is None:
        return samples
    by_site = sites(samples, min_patients)
    if site not in by_site:
        raise TumorscopeError(f"site {site!r} has no training patients here (sites: {', '.join(by_site)})",
                              ds.root)
    return by_site[site]


def write_holdout(ds: Dataset, path: Path, test_fraction: float, seed: int) -> Split:
    """Make and save (as ``splits.json``) the held-out split of a simulation."""
    split = holdout_split(ds, test_fraction, seed)
    save_splits(path, split, made_by="tumorscope federated simulate")
    return split


def _patients(samples: list[Sample]) -> int:
    return len({s.patient_id for s in samples})
