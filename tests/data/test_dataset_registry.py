"""The dataset registry: complete, consistent entries, lookup and the table/JSON listing."""

from __future__ import annotations

import json
import re

import pytest

from tumorscope.cli import main
from tumorscope.data.layouts import layouts
from tumorscope.data.registry import DatasetInfo, format_registry, format_size, get, registry
from tumorscope.errors import TumorscopeError

REQUIRED = {
    "lgg-mri-segmentation",
    "brain-tumor-mri-4class",
    "busi",
    "lc25000",
    "lung-pet-ct-dx",
    "brats",
    "lidc-idri",
    "breastmnist",
}


def test_entries_are_complete_and_unique():
    infos = registry()
    names = [d.name for d in infos]
    assert len(names) == len(set(names)) and REQUIRED <= set(names)
    known_layouts = {m.NAME for m in layouts()}
    for d in infos:
        assert re.fullmatch(r"[a-z0-9-]+", d.name)
        assert d.title and d.modality and d.task and d.citation and d.licence
        assert d.url.startswith("https://")
        assert d.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", d.sha256)
        assert d.md5 is None or re.fullmatch(r"[0-9a-f]{32}", d.md5)
        assert d.layout is None or d.layout in known_layouts, d.layout
        if d.access == "direct":  # a direct download must be verifiable
            assert d.download_url and d.download_url.startswith("https://") and (d.sha256 or d.md5)


def test_access_kinds_of_known_datasets():
    assert get("brats").access == "registration" and get("brats").download_url is None
    assert get("lidc-idri").access == "tcia" and "10.7937/K9/TCIA.2015.LO9QL9SX" in get("lidc-idri").citation
    assert get("lgg-mri-segmentation").layout == "lgg_kaggle3m"
    assert get("breastmnist").md5 == "750601b1f35ba3300ea97c75c52ff8f6"
    assert "zenodo.org" in (get("breastmnist").download_url or "")


def test_get_is_forgiving_about_case_and_underscores_and_names_known_ones():
    assert get("LGG_MRI_Segmentation").name == "lgg-mri-segmentation"
    with pytest.raises(TumorscopeError, match="unknown dataset 'nope'.*busi"):
        get("nope")


def test_invalid_entry_is_rejected():
    with pytest.raises(ValueError, match="download_url"):
        DatasetInfo("x", "t", "m", "k", "c", "l", "https://x", access="direct")
    with pytest.raises(ValueError, match="access"):
        DatasetInfo("x", "t", "m", "k", "c", "l", "https://x", access="ftp")


def test_table_lists_every_dataset():
    table = format_registry()
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["name", "modality", "task"]
    for d in registry():
        assert any(line.startswith(d.name + " ") for line in lines)
    assert format_size(None) == "?" and format_size(1_500_000_000) == "1.5 GB" and format_size(12) == "12 B"


def test_cli_list_json(capsys):
    assert main(["datasets", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == [d.name for d in registry()]
    assert {"citation", "licence", "url", "size_bytes", "sha256", "layout", "access"} <= set(data[0])
