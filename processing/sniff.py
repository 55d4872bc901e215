"""Which image format a download holds, decided from its first bytes alone.

The file name and the ``Content-Type`` header lie often enough (a HEIC saved
as ``.png``, an HTML error page labelled ``image/jpeg``) that only the bytes
count. :func:`identify` names one of the contract's formats or raises the
error a person can act on: :class:`NotAnImage` for pages, text, documents and
unknown data; :class:`UnsupportedFormat` for SVG and for raster formats the
service does not read.
"""

from __future__ import annotations

import re
import struct

from processing.errors import NotAnImage, UnsupportedFormat

HEAD_BYTES = 4096
"""How many leading bytes :func:`identify` looks at."""

# (offset, magic, format); formats the contract lists
_SUPPORTED: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"II+\x00", "TIFF"),
    (0, b"MM\x00+", "TIFF"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"8BPS\x00\x01", "PSD"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG2000"),
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JXL"),
    (0, b"\xff\x0a", "JXL"),
)

# (offset, magic, name) of raster formats recognised but not read
_UNSUPPORTED: tuple[tuple[int, bytes, str], ...] = (
    (0, b"8BPS\x00\x02", "PSB (large Photoshop document)"),
    (0, b"\x00\x00\x02\x00", "CUR (Windows cursor)"),
    (0, b"icns", "ICNS (Apple icon)"),
    (0, b"DDS ", "DDS (DirectDraw surface)"),
    (0, b"qoif", "QOI"),
    (0, b"II\xbc", "JPEG XR"),
    (0, b"BPG\xfb", "BPG"),
    (0, b"farbfeld", "farbfeld"),
    (0, b"\x59\xa6\x6a\x95", "Sun raster"),
    (0, b"\x01\xda\x00", "SGI"),
    (0, b"\x01\xda\x01", "SGI"),
    (0, b"v/1\x01", "OpenEXR"),
    (0, b"#?RADIANCE", "Radiance HDR"),
    (0, b"#?RGBE", "Radiance HDR"),
    (0, b"\xabKTX", "KTX texture"),
    (0, b"gimp xcf", "GIMP XCF"),
    (0, b"FLIF", "FLIF"),
    (0, b"AT&TFORM", "DjVu"),
    (0, b"SIMPLE  =", "FITS"),
    (128, b"DICM", "DICOM"),
)

# (offset, magic, description) of well-known files that are not images
_NOT_IMAGES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF-", "a PDF document"),
    (0, b"PK\x03\x04", "a ZIP archive"),
    (0, b"\x1f\x8b", "a gzip archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"Rar!", "a RAR archive"),
    (0, b"\x7fELF", "a program (ELF)"),
    (0, b"MZ", "a Windows program"),
    (0, b"ID3", "an MP3 audio file"),
    (0, b"OggS", "an Ogg media file"),
    (0, b"fLaC", "a FLAC audio file"),
    (0, b"\x1a\x45\xdf\xa3", "a Matroska or WebM video"),
)

_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
# the generic still-image and sequence brands, HEIF whatever the codec
_GENERIC_BRANDS = frozenset({b"mif1", b"msf1"})
_BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_PCX_VERSIONS = frozenset({0, 2, 3, 4, 5})

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
# the root element's name, or the document type's when that comes first
_ROOT = re.compile(r"<(?:!DOCTYPE\s+)?([A-Za-z_][\w:.-]*)", re.IGNORECASE)
_NETPBM = re.compile(rb"P[1-7]\s")
_HTML_TAGS = frozenset(
    {"html", "head", "body", "title", "meta", "link", "style", "script", "noscript"}
    | {"div", "span", "p", "a", "br", "h1", "h2", "pre", "table", "center", "form"}
)


def identify(head: bytes) -> str:
    """Name the contract format of data starting with ``head``.

    Returns one of JPEG, PNG, GIF, WEBP, TIFF, BMP, ICO, PSD, JPEG2000, HEIF,
    AVIF or JXL (MPO is told apart from JPEG later, from its header). Raises
    :class:`NotAnImage` for empty data, pages, text, documents and unknown
    bytes, and :class:`UnsupportedFormat` for SVG and unsupported rasters.
    """
    head = bytes(head[:HEAD_BYTES])
    if not head:
        raise NotAnImage("the response is empty (0 bytes), not an image")
    # the ISO media check comes first: a 256-byte ftyp box starts like an icon
    found = _container(head) or _magic(head, _SUPPORTED) or _bmp(head)
    if found:
        return found
    _reject_known(head)
    raise _describe_unknown(head)


def _magic(head: bytes, table: tuple[tuple[int, bytes, str], ...]) -> str | None:
    for offset, magic, name in table:
        if head.startswith(magic, offset):
            return name
    return None


def _container(head: bytes) -> str | None:
    """Formats whose signature is a tag inside a RIFF or ISO media header."""
    if head.startswith(b"RIFF") and head.startswith(b"WEBP", 8):
        return "WEBP"
    if not head.startswith(b"ftyp", 4):
        return None
    major = head[8:12]
    (size,) = struct.unpack(">I", head[:4])
    compatible = {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    for brands in ({major}, compatible):
        if brands & _AVIF_BRANDS:
            return "AVIF"
        if brands & _HEIF_BRANDS:
            return "HEIF"
    return "HEIF" if major in _GENERIC_BRANDS else None


def _bmp(head: bytes) -> str | None:
    # "BM" alone is too weak (plain text may start with it): check the DIB header
    if head.startswith(b"BM") and len(head) >= 18:
        (header_size,) = struct.unpack("<I", head[14:18])
        if header_size in _BMP_HEADER_SIZES:
            return "BMP"
    return None


def _reject_known(head: bytes) -> None:
    name = _magic(head, _UNSUPPORTED) or _netpbm(head) or _pcx(head)
    if name:
        raise UnsupportedFormat(f"{name} images are not supported")
    if head.startswith(b"ftyp", 4):
        brand = head[8:12].decode("latin-1").strip()
        if brand == "crx":
            raise UnsupportedFormat("Canon CR3 raw images are not supported")
        raise NotAnImage(f"the response is ISO media ({brand!r}), such as a video")
    if head.startswith(b"RIFF"):
        kind = head[8:12].decode("latin-1").strip()
        raise NotAnImage(f"the response is a RIFF {kind!r} file, not an image")
    description = _magic(head, _NOT_IMAGES)
    if description:
        raise NotAnImage(f"the response is {description}, not an image")
    if head.startswith(b"%!PS"):
        raise UnsupportedFormat(
            "PostScript/EPS is a vector format with no pixel size, not a raster image"
        )


def _netpbm(head: bytes) -> str | None:
    return "Netpbm (PBM/PGM/PPM/PAM)" if _NETPBM.match(head) else None


def _pcx(head: bytes) -> str | None:
    is_pcx = (
        len(head) >= 4
        and head[0] == 0x0A
        and head[1] in _PCX_VERSIONS
        and head[2] == 1
        and head[3] in (1, 2, 4, 8)
    )
    return "PCX" if is_pcx else None


def _describe_unknown(head: bytes) -> NotAnImage | UnsupportedFormat:
    text = _as_text(head)
    if text is None:
        return NotAnImage("the response is not in any known image format")
    text = text.lstrip()
    if not text:
        return NotAnImage("the response is blank text, not an image")
    if text.startswith("<"):
        return _describe_markup(text)
    if text[0] in "{[":
        return NotAnImage("the response is JSON data, not an image")
    return NotAnImage("the response is plain text, not an image")


def _describe_markup(text: str) -> NotAnImage | UnsupportedFormat:
    root = _ROOT.search(_COMMENT.sub("", text))
    name = root.group(1).rpartition(":")[2].lower() if root else ""
    if name == "svg":
        return UnsupportedFormat(
            "the response is an SVG drawing: SVG is a vector format with no pixel "
            "size, not a raster image"
        )
    if name in _HTML_TAGS:
        return NotAnImage("the response is an HTML page, not an image")
    return NotAnImage("the response is an XML document, not an image")


def _as_text(head: bytes) -> str | None:
    """``head`` decoded when it reads as text, else ``None``."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, errors="replace")
    if b"\x00" in head:
        return None
    text = head.decode("utf-8", errors="replace")
    odd = sum(1 for char in text if char == "\ufffd" or _is_control(char))
    return text if odd * 10 <= len(text) else None


def _is_control(char: str) -> bool:
    return ord(char) < 32 and char not in "\t\n\r\f"
