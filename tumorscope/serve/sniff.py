"""What an upload holds, told from its bytes (never from the name a client gave it).

Hand-written rather than a magic-number library (python-magic needs libmagic, filetype knows no
NIfTI or DICOM): the service accepts only eight kinds, each with a fixed signature.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from tumorscope.serve.errors import BadRequest, UnsupportedMedia

HEAD_BYTES = 4096  # what callers pass as ``head``: enough for every signature below
_GZIP_PROBE = 1024  # decompressed bytes of a gzip looked at (a NIfTI header is 348 or 540)
_GZIP_READ_MAX = 64 * 1024  # compressed bytes read to get them

# kind -> file extension of the stored upload
EXTENSIONS = {
    "png": ".png",
    "jpeg": ".jpg",
    "tiff": ".tif",
    "bmp": ".bmp",
    "nifti": ".nii",
    "nifti_gz": ".nii.gz",
    "dicom": ".dcm",
    "zip": ".zip",
}
EXPECTED = "not a PNG/JPEG/TIFF/BMP image, NIfTI volume (.nii, .nii.gz), DICOM file or zip"

_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}  # BITMAPCOREHEADER ... BITMAPV5HEADER
_NIFTI2 = b"n+2\0\r\n\x1a\n"
_OTHERS = (  # signatures of files people send by mistake, to say what was found
    (0, b"%PDF", "a PDF document"),
    (0, b"GIF8", "a GIF image"),
    (0, b"\x7fELF", "an executable"),
    (0, b"MZ", "an executable"),
    (0, b"Rar!", "a RAR archive (send a .zip)"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7z archive (send a .zip)"),
    (257, b"ustar", "a tar archive (send a .zip)"),
    (0, b"\x89HDF", "an HDF5 file"),
    (0, b"NRRD", "an NRRD volume (convert it to NIfTI)"),
    (344, b"ni1\0", "a NIfTI .hdr header without its image (send one .nii or .nii.gz)"),
)


def sniff(head: bytes, path: Path) -> str:
    """The kind of the file at ``path`` whose first bytes are ``head`` (at least :data:`HEAD_BYTES`, or all).

    One of ``png jpeg tiff bmp nifti nifti_gz dicom zip`` (a gzip is opened, its first KiB decompressed
    and looked at, so ``path`` is read only then). UnsupportedMedia saying what was found for anything
    else; BadRequest for an empty file, an empty zip or a gzip too damaged to look inside.
    """
    if not head:
        raise BadRequest("the upload is empty")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"PK\x05\x06"):
        raise BadRequest("the zip is empty (it holds no files)")
    if head.startswith(b"\x1f\x8b"):
        return _gzip_kind(path)
    if head[128:132] == b"DICM":  # before TIFF: a DICOM preamble may hold a TIFF header (dual-format files)
        return "dicom"
    if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):  # classic and BigTIFF, either byte order
        return "tiff"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    if _is_nifti(head):
        return "nifti"
    raise UnsupportedMedia(f"the upload is {_describe(head)}: {EXPECTED}")


def _is_nifti(block: bytes) -> bool:
    """NIfTI-1 (magic ``n+1`` at byte 344) or NIfTI-2 (magic at byte 4), single-file form."""
    return block[344:348] == b"n+1\0" or block[4:12] == _NIFTI2


def _gzip_kind(path: Path) -> str:
    """``nifti_gz`` when the gzip at ``path`` starts with a NIfTI header; decompresses at most 1 KiB."""
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = b""
    read = 0
    truncated = False
    try:
        with open(path, "rb") as f:
            while len(out) < _GZIP_PROBE and not inflate.eof and read < _GZIP_READ_MAX:
                data = inflate.unconsumed_tail
                if not data:
                    data = f.read(4096)
                    read += len(data)
                    truncated = not data
                    if truncated:
                        break
                out += inflate.decompress(data, _GZIP_PROBE - len(out))
    except zlib.error as exc:
        raise BadRequest(f"damaged gzip file: {exc}") from None
    if _is_nifti(out):
        return "nifti_gz"
    if truncated and len(out) < 348:
        raise BadRequest(f"truncated gzip file: it ends after {len(out)} decompressed bytes")
    raise UnsupportedMedia(f"the upload is gzip-compressed {_describe(out)}: {EXPECTED}")


def _describe(head: bytes) -> str:
    """What ``head`` looks like, for the 415 message: a known kind, text, or its first bytes in hex."""
    for offset, magic, what in _OTHERS:
        if head[offset : offset + len(magic)] == magic:
            return what
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a WebP image"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the end of the head is still text
        text = head[: exc.start].decode("utf-8") if exc.start > len(head) - 4 else ""
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "text"
    return f"data starting {head[:8].hex(' ')}" if head else "empty"
