"""The public tumor datasets tumorscope knows: where they come from, under which terms, how to get them.

Checksums are only given where the publisher states them (MedMNIST's MD5s, from ``medmnist/info.py``
v2.1.0); everything else has ``sha256=None`` and a download of it is reported as unverified.
``access`` says how the files can be had: ``direct`` (one URL, ``tumorscope datasets download`` fetches
it), ``kaggle`` (needs a Kaggle account), ``tcia`` (NBIA Data Retriever), ``registration`` (apply for
access first) or ``manual`` (no stable direct link). All but ``direct`` need ``--url`` pointing at a copy
you fetched yourself (``file:///path/to/archive.zip`` works).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tumorscope.errors import TumorscopeError

ACCESS = ("direct", "kaggle", "tcia", "registration", "manual")


@dataclass(frozen=True)
class DatasetInfo:
    """One registered dataset. ``url`` is the landing page; ``download_url`` the file, when there is one."""

    name: str
    title: str
    modality: str
    task: str
    citation: str
    licence: str
    url: str
    access: str
    download_url: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    md5: str | None = None
    layout: str | None = None  # the tumorscope layout that reads the unpacked folder
    unpack: bool = True  # unpack .zip / .tar.gz archives into the target folder
    notes: str = ""

    def __post_init__(self) -> None:
        if self.access not in ACCESS:
            raise ValueError(f"{self.name}: access must be one of {ACCESS}, got {self.access!r}")
        if (self.access == "direct") != (self.download_url is not None):
            raise ValueError(f"{self.name}: a download_url is given exactly when access is 'direct'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_TCIA = (
    "Clark K, et al. The Cancer Imaging Archive (TCIA): maintaining and operating a public information "
    "repository. J Digit Imaging 2013;26(6):1045-1057."
)
_MEDMNIST = (
    "Yang J, Shi R, Wei D, Liu Z, Zhao L, Ke B, Pfister H, Ni B. MedMNIST v2 - A large-scale lightweight "
    "benchmark for 2D and 3D biomedical image classification. Sci Data 2023;10:41. doi:10.1038/s41597-022-01721-8"
)
_MEDMNIST_ZENODO = "https://zenodo.org/record/6496656/files/{}.npz?download=1"


def _medmnist(name: str, title: str, modality: str, md5: str, source: str) -> DatasetInfo:
    return DatasetInfo(
        name=name,
        title=f"{title} (MedMNIST v2, 28x28)",
        modality=modality,
        task="classification",
        citation=f"{_MEDMNIST}. Source data: {source}.",
        licence="CC BY 4.0",
        url="https://medmnist.com/",
        access="direct",
        download_url=_MEDMNIST_ZENODO.format(name),
        md5=md5,
        unpack=False,
        notes="One .npz with train/val/test arrays (keys train_images, train_labels, ...); MD5 as published "
        "in medmnist/info.py 2.1.0. Not a folder layout: load it with numpy.",
    )


_REGISTRY: tuple[DatasetInfo, ...] = (
    DatasetInfo(
        name="lgg-mri-segmentation",
        title="LGG MRI segmentation (Buda et al., kaggle_3m): 110 TCGA lower-grade glioma patients",
        modality="MRI (pre-contrast, FLAIR, post-contrast)",
        task="segmentation",
        citation="Buda M, Saha A, Mazurowski MA. Association of genomic subtypes of lower-grade gliomas with "
        "shape features automatically extracted by a deep learning algorithm. Comput Biol Med 2019;109:218-225. "
        "doi:10.1016/j.compbiomed.2019.05.002. Images: TCGA-LGG, TCIA.",
        licence="CC BY-NC-SA 4.0 (Kaggle listing; verify)",
        url="https://www.kaggle.com/datasets/mateuszbuda/lgg-mri-segmentation",
        access="kaggle",
        layout="lgg_kaggle3m",
        notes="3929 256x256 TIFF slices with FLAIR masks; kaggle_3m/<patient>/<patient>_<n>[_mask].tif. "
        "TCIA data usage policy applies to the TCGA-LGG images.",
    ),
    DatasetInfo(
        name="brain-tumor-mri-4class",
        title="Brain Tumor MRI Dataset (Nickparvar): glioma, meningioma, pituitary, no tumor",
        modality="MRI (2-D slices, JPEG)",
        task="classification",
        citation="Nickparvar M. Brain Tumor MRI Dataset. Kaggle, 2021. doi:10.34740/KAGGLE/DSV/2645886",
        licence="CC0 1.0 (Kaggle listing; verify) - parts: figshare set CC BY 4.0",
        url="https://www.kaggle.com/datasets/masoudnickparvar/brain-tumor-mri-dataset",
        access="kaggle",
        layout="class_folders",
        notes="7023 JPEGs in Training/ and Testing/; a merge of figshare (Cheng et al.), SARTAJ and Br35H. "
        "Holds pixel-identical and mirrored duplicates across Training/Testing: run `tumorscope datasets audit`.",
    ),
    DatasetInfo(
        name="busi",
        title="Breast Ultrasound Images (BUSI, Dataset_BUSI_with_GT): benign, malignant, normal + masks",
        modality="ultrasound",
        task="classification, segmentation",
        citation="Al-Dhabyani W, Gomaa M, Khaled H, Fahmy A. Dataset of breast ultrasound images. "
        "Data in Brief 2020;28:104863. doi:10.1016/j.dib.2019.104863",
        licence="unknown - article CC BY 4.0, Kaggle mirrors say CC0 (verify)",
        url="https://scholar.cu.edu.eg/?q=afahmy/pages/dataset",
        access="manual",
        layout="busi",
        notes="780 PNGs from 600 women with <name>_mask.png (+ _mask_1, _mask_2 for extra lesions); no patient "
        "ids. Some masks differ in size from their image (e.g. 'benign (4)_mask_1.png').",
    ),
    DatasetInfo(
        name="lc25000",
        title="LC25000 lung and colon histopathology (5 classes, 25,000 tiles)",
        modality="histopathology (H&E, 768x768 JPEG)",
        task="classification",
        citation="Borkowski AA, Bui MM, Thomas LB, Wilson CP, DeLand LA, Mastorides SM. Lung and Colon Cancer "
        "Histopathological Image Dataset (LC25000). arXiv:1912.12142, 2019",
        licence="unknown (not stated by the authors; verify)",
        url="https://github.com/tampapath/lung_colon_image_set",
        access="manual",
        layout="class_folders",
        notes="lung_colon_image_set/{colon_image_sets,lung_image_sets}/<class>/. The 5000 tiles per class are "
        "rotations/flips of ~250 originals: any split inside the folder leaks (audit finds the flip twins).",
    ),
    DatasetInfo(
        name="lung-pet-ct-dx",
        title="Lung-PET-CT-Dx: CT and PET/CT of lung cancer with tumor bounding boxes",
        modality="CT, PET/CT (DICOM)",
        task="detection, classification",
        citation="Li P, Wang S, Li T, Lu J, HuangFu Y, Wang D. A Large-Scale CT and PET/CT Dataset for Lung "
        "Cancer Diagnosis [Data set]. The Cancer Imaging Archive, 2020. doi:10.7937/TCIA.2020.NNC20461. " + _TCIA,
        licence="CC BY 4.0 + TCIA Data Usage Policy",
        url="https://doi.org/10.7937/TCIA.2020.NNC20461",
        access="tcia",
        layout="tcia_dicom",
        notes="Download the .tcia manifest with the NBIA Data Retriever; PASCAL-VOC XML boxes per slice, "
        "named by SOPInstanceUID.",
    ),
    DatasetInfo(
        name="brats",
        title="BraTS 2021 (RSNA-ASNR-MICCAI Brain Tumor Segmentation challenge)",
        modality="MRI (T1, T1Gd, T2, FLAIR; NIfTI)",
        task="segmentation",
        citation="Baid U, et al. The RSNA-ASNR-MICCAI BraTS 2021 Benchmark on Brain Tumor Segmentation and "
        "Radiogenomic Classification. arXiv:2107.02314, 2021. Menze BH, et al. IEEE Trans Med Imaging "
        "2015;34(10):1993-2024. Bakas S, et al. Sci Data 2017;4:170117",
        licence="BraTS data use terms (Synapse registration)",
        url="https://www.synapse.org/#!Synapse:syn25829067",
        access="registration",
        layout="brats",
        notes="Registration on Synapse and acceptance of the challenge terms are required; there is no direct "
        "download link. Per case BraTS2021_<id>/<id>_{t1,t1ce,t2,flair,seg}.nii.gz.",
    ),
    DatasetInfo(
        name="lidc-idri",
        title="LIDC-IDRI: thoracic CT with lung nodules marked by four radiologists",
        modality="CT (DICOM)",
        task="detection, segmentation",
        citation="Armato SG III, et al. The Lung Image Database Consortium (LIDC) and Image Database Resource "
        "Initiative (IDRI): a completed reference database of lung nodules on CT scans. Med Phys "
        "2011;38(2):915-931. Data: doi:10.7937/K9/TCIA.2015.LO9QL9SX. " + _TCIA,
        licence="CC BY 3.0 + TCIA Data Usage Policy",
        url="https://doi.org/10.7937/K9/TCIA.2015.LO9QL9SX",
        access="tcia",
        layout="tcia_dicom",
        notes="1010 patients, about 124 GB through the NBIA Data Retriever; nodule outlines in per-series XML "
        "(not read by tumorscope yet).",
    ),
    _medmnist(
        "breastmnist",
        "BreastMNIST: breast ultrasound, malignant vs normal+benign",
        "ultrasound",
        "750601b1f35ba3300ea97c75c52ff8f6",
        "BUSI (Al-Dhabyani et al. 2020)",
    ),
    _medmnist(
        "pathmnist",
        "PathMNIST: colorectal cancer histology, 9 tissue classes",
        "histopathology",
        "a8b06965200029087d5bd730944a56c1",
        "NCT-CRC-HE-100K / CRC-VAL-HE-7K (Kather et al. 2019)",
    ),
    _medmnist(
        "organamnist",
        "OrganAMNIST: abdominal CT (axial), 11 organs",
        "CT",
        "866b832ed4eeba67bfb9edee1d5544e6",
        "LiTS (Bilic et al. 2023)",
    ),
)


def registry() -> list[DatasetInfo]:
    """All registered datasets, in a stable order."""
    return list(_REGISTRY)


def get(name: str) -> DatasetInfo:
    """The dataset called ``name`` (case-insensitive; ``_`` and ``-`` alike)."""
    key = name.strip().lower().replace("_", "-")
    for info in _REGISTRY:
        if info.name == key:
            return info
    known = ", ".join(i.name for i in _REGISTRY)
    raise TumorscopeError(f"unknown dataset {name!r} (known: {known}; see `tumorscope datasets list`)")


def format_size(n: int | None) -> str:
    """``1.5 GB``-style size, ``?`` when unknown."""
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def format_registry() -> str:
    """A plain-text table of the registry plus how to get each kind of access."""
    header = ("name", "modality", "task", "size", "access", "licence")
    rows = [header] + [
        (d.name, d.modality, d.task, format_size(d.size_bytes), d.access, d.licence) for d in _REGISTRY
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(header[-1]))
    lines.append("")
    lines.append("access: direct = `tumorscope datasets download NAME --to DIR` fetches it; kaggle / tcia /")
    lines.append("registration / manual = get the files from the page (`--json` lists urls), then")
    lines.append("`tumorscope datasets download NAME --to DIR --url file:///path/to/archive.zip` (or use the folder).")
    return "\n".join(lines)
