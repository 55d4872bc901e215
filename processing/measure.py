"""Measure a downloaded image from its header, without decoding its pixels.

:func:`measure` reports the size a person sees (orientation applied), the
format read from the bytes, the EXIF orientation tag and the number of
animation frames or TIFF pages. Only headers are parsed, so a small file that
declares a huge canvas is refused as :class:`TooLarge` before any pixel
memory is allocated, and a JPEG whose tail is cut off still measures.

Pillow's own decompression-bomb check reads the process-wide
``Image.MAX_IMAGE_PIXELS`` and warns or raises from inside ``Image.open``.
This module never calls ``Image.open``: it reads GIF, WebP and JPEG XL
headers itself, builds the one Pillow plugin class each other format needs,
and applies the caller's ``max_pixels``, so the limit is per call and no
global is read or changed (the job runner calls :func:`measure` from worker
threads).
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pillow_heif

# importing pillow_jxl registers Pillow's JPEG XL opener for the rest of the
# service; measuring reads the JXL header here instead, because the plugin
# decodes every pixel as soon as a file is opened
import pillow_jxl  # noqa: F401
from PIL import ExifTags, Image
from PIL.AvifImagePlugin import AvifImageFile
from PIL.BmpImagePlugin import BmpImageFile
from PIL.IcoImagePlugin import IcoFile
from PIL.Jpeg2KImagePlugin import Jpeg2KImageFile
from PIL.JpegImagePlugin import JpegImageFile
from PIL.PngImagePlugin import PngImageFile
from PIL.PsdImagePlugin import PsdImageFile
from PIL.TiffImagePlugin import TiffImageFile
from pillow_heif.as_plugin import HeifImageFile

from processing.errors import CorruptImage, ProcessingError, TooLarge
from processing.journal import url_host
from processing.sniff import HEAD_BYTES, identify

logger = logging.getLogger(__name__)

# Pillow reads AVIF itself since 11.2; pillow-heif 1.x only adds HEIF
pillow_heif.register_heif_opener()

_ORIENTATION = ExifTags.Base.Orientation
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PSD_EXIF_RESOURCE = 1058
_JP2_EXIF_UUID = b"JpgTiffExif->JP2"
# MP types of an MPF entry that are previews of the primary image, not views
_MP_PREVIEWS = frozenset({0x010001, 0x010002})
_JXL_DIMENSION_BITS = (9, 13, 18, 30)
# SizeHeader ratio code -> width / height
_JXL_RATIOS = {
    1: (1, 1),
    2: (12, 10),
    3: (4, 3),
    4: (3, 2),
    5: (16, 9),
    6: (5, 4),
    7: (2, 1),
}


@dataclass(frozen=True, slots=True)
class Measurement:
    """What :func:`measure` found out about one image."""

    width: int
    height: int
    format: str
    orientation: int | None
    frames: int

    @property
    def perimeter(self) -> int:
        return 2 * (self.width + self.height)


def measure(
    data: bytes | memoryview, *, max_pixels: int, url: str | None = None
) -> Measurement:
    """Measure an image from its header; thread-safe and synchronous.

    ``width`` and ``height`` are as displayed: EXIF orientation 5-8 swaps
    them, except that HEIF and AVIF use their container's rotation instead
    (their ``orientation`` is ``None``) and JPEG XL its codestream's. ``frames``
    counts animation frames or TIFF pages; icon sizes, MPO views and PSD
    layers are not frames.

    Raises :class:`NotAnImage` (empty, a page, text, unknown data),
    :class:`UnsupportedFormat` (SVG, rasters outside the contract),
    :class:`CorruptImage` (a header that cannot be read) and
    :class:`TooLarge` (more than ``max_pixels`` pixels), each carrying ``url``.
    """
    try:
        image_format = identify(bytes(data[:HEAD_BYTES]))
        result = _read(image_format, bytes(data))
        _check_pixels(result, max_pixels)
    except ProcessingError as exc:
        exc.url = url
        logger.debug("measure failed %s: %s", url_host(url or ""), exc.message)
        raise
    return result


def _read(image_format: str, data: bytes) -> Measurement:
    try:
        return _READERS[image_format](data)
    except ProcessingError:
        raise
    except Image.DecompressionBombError as exc:
        # no reader here lets Pillow allocate pixels, but should a plugin apply
        # Pillow's own limit while reading a header, the image is still too large
        raise TooLarge(f"the image is too large to open: {exc}") from exc
    except Exception as exc:
        # parsers of untrusted bytes fail in many ways (SyntaxError, OSError,
        # struct.error, IndexError, ...); each means the header is unreadable
        logger.debug("corrupt %s header: %r", image_format, exc)
        raise CorruptImage(
            f"the {image_format} image is damaged: its header cannot be read"
        ) from exc


def _check_pixels(result: Measurement, max_pixels: int) -> None:
    pixels = result.width * result.height
    if pixels > max_pixels:
        raise TooLarge(
            f"the image is {result.width}x{result.height} ({pixels} pixels), "
            f"over the limit of {max_pixels} pixels"
        )


def _measured(
    image_format: str,
    size: tuple[int, int],
    orientation: int | None = None,
    *,
    frames: int = 1,
    turn: int | None = None,
) -> Measurement:
    """A measurement from a stored ``size``; ``turn`` is the orientation to apply."""
    width, height = size
    if width <= 0 or height <= 0:
        raise CorruptImage(f"the {image_format} header says {width}x{height} pixels")
    if turn is not None and turn >= 5:
        width, height = height, width
    return Measurement(width, height, image_format, orientation, max(frames, 1))


def _read_jpeg(data: bytes) -> Measurement:
    with JpegImageFile(io.BytesIO(data)) as image:
        orientation = _exif_orientation(image.info.get("exif"))
        image_format = "MPO" if _is_multi_picture(image.applist) else "JPEG"
        return _measured(image_format, image.size, orientation, turn=orientation)


def _read_png(data: bytes) -> Measurement:
    # eXIf chunks after the pixel data are not looked for: reaching them means
    # reading (Pillow: decompressing) the whole file
    with PngImageFile(io.BytesIO(data)) as image:
        orientation = _exif_orientation(_png_exif(image.info))
        return _measured(
            "PNG", image.size, orientation, frames=image.n_frames, turn=orientation
        )


def _read_gif(data: bytes) -> Measurement:
    # the logical screen is the canvas viewers show; Pillow grows its size to
    # fit a frame placed partly outside it
    width, height = struct.unpack_from("<HH", data, 6)
    return _measured("GIF", (width, height), frames=_gif_frames(data))


def _read_webp(data: bytes) -> Measurement:
    # read here rather than by Pillow, whose WebP opener has libwebp allocate
    # the whole canvas before the size could be checked against our limit
    size = exif = None
    frames = 0
    for kind, payload in _riff_chunks(data):
        if kind == b"VP8X" and len(payload) >= 10:
            size = _little(payload[4:7]) + 1, _little(payload[7:10]) + 1
        elif kind in (b"VP8 ", b"VP8L") and size is None:
            size = _vp8_size(payload) if kind == b"VP8 " else _vp8l_size(payload)
        elif kind == b"ANMF":
            frames += 1
        elif kind == b"EXIF":
            exif = bytes(payload)
    if size is None:
        raise CorruptImage("the WEBP file holds no image header")
    orientation = _exif_orientation(exif)
    return _measured("WEBP", size, orientation, frames=frames, turn=orientation)


def _read_tiff(data: bytes) -> Measurement:
    with TiffImageFile(io.BytesIO(data)) as image:
        orientation = _valid_orientation(image.tag_v2.get(_ORIENTATION))
        return _measured(
            "TIFF", image.size, orientation, frames=image.n_frames, turn=orientation
        )


def _read_bmp(data: bytes) -> Measurement:
    with BmpImageFile(io.BytesIO(data)) as image:
        return _measured("BMP", image.size)


def _read_ico(data: bytes) -> Measurement:
    icon = IcoFile(io.BytesIO(data))
    sizes = [_icon_size(data, entry.offset, entry.dim) for entry in icon.entry]
    if not sizes:
        raise CorruptImage("the ICO file holds no images")
    return _measured("ICO", max(sizes, key=lambda size: size[0] * size[1]))


def _icon_size(data: bytes, offset: int, dim: tuple[int, int]) -> tuple[int, int]:
    # a PNG entry of 256 pixels or more says 0 (meaning 256) in the directory
    head = data[offset : offset + 24]
    if head.startswith(_PNG_MAGIC) and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return width, height
    return dim


def _read_psd(data: bytes) -> Measurement:
    with PsdImageFile(io.BytesIO(data)) as image:
        exif = next(
            (raw for key, _, raw in image.resources if key == _PSD_EXIF_RESOURCE), None
        )
        orientation = _exif_orientation(exif)
        return _measured("PSD", image.size, orientation, turn=orientation)


def _read_jpeg2000(data: bytes) -> Measurement:
    with Jpeg2KImageFile(io.BytesIO(data)) as image:
        size = image.size
    exif = None
    if not data.startswith(b"\xff\x4f"):  # a JP2 file, not a bare codestream
        exif = next(
            (
                bytes(payload[16:])
                for kind, payload in _boxes(data)
                if kind == b"uuid" and bytes(payload[:16]) == _JP2_EXIF_UUID
            ),
            None,
        )
    orientation = _exif_orientation(exif)
    return _measured("JPEG2000", size, orientation, turn=orientation)


def _read_heif(data: bytes) -> Measurement:
    # libheif reports the size with the container's rotation (irot/imir)
    # applied, and pillow-heif resets the EXIF orientation to 1, so the size is
    # already as displayed and the EXIF tag must not turn it again (the ignore:
    # pillow-heif declares no parameter types for its plugin class)
    with HeifImageFile(io.BytesIO(data)) as image:  # type: ignore[no-untyped-call]
        width, height = image.size
        return _measured("HEIF", (int(width), int(height)))


def _read_avif(data: bytes) -> Measurement:
    # Pillow reports the stored size and exposes the container's rotation
    # (irot/imir) as the EXIF orientation, replacing any tag in the file
    with AvifImageFile(io.BytesIO(data)) as image:
        turn = _exif_orientation(image.info.get("exif"))
        return _measured("AVIF", image.size, frames=image.n_frames, turn=turn)


def _read_jxl(data: bytes) -> Measurement:
    codestream, exif = _jxl_parts(data)
    size, turn = _jxl_header(codestream)
    return _measured("JXL", size, _exif_orientation(exif), turn=turn)


_READERS: dict[str, Callable[[bytes], Measurement]] = {
    "JPEG": _read_jpeg,
    "PNG": _read_png,
    "GIF": _read_gif,
    "WEBP": _read_webp,
    "TIFF": _read_tiff,
    "BMP": _read_bmp,
    "ICO": _read_ico,
    "PSD": _read_psd,
    "JPEG2000": _read_jpeg2000,
    "HEIF": _read_heif,
    "AVIF": _read_avif,
    "JXL": _read_jxl,
}


def _exif_orientation(raw: bytes | None) -> int | None:
    """The orientation tag of EXIF (TIFF) data, ``None`` when absent or unreadable."""
    if not raw:
        return None
    try:
        tags = Image.Exif()
        tags.load(raw)
        value = tags.get(_ORIENTATION)
    except Exception as exc:
        # damaged metadata must not fail an image whose header is readable
        logger.debug("unreadable exif: %r", exc)
        return None
    return _valid_orientation(value)


def _valid_orientation(value: object) -> int | None:
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _png_exif(info: Mapping[Any, object]) -> bytes | None:
    exif = info.get("exif")
    if isinstance(exif, bytes):
        return exif
    # ImageMagick and exiftool keep EXIF as hex in a text chunk
    profile = info.get("Raw profile type exif")
    if not isinstance(profile, str):
        return None
    try:
        return bytes.fromhex("".join(profile.split("\n")[3:]))
    except ValueError:
        return None


def _is_multi_picture(applist: list[tuple[str, bytes]]) -> bool:
    """Whether an MPF index lists two or more views (stereo, multi-angle).

    Cameras also use MPF for large previews of the one photo and Ultra HDR
    for a gain map; such a file is an ordinary JPEG.
    """
    mpf = next((c for m, c in applist if m == "APP2" and c[:4] == b"MPF\x00"), None)
    if mpf is None or any(b' hdrgm:Version="' in c for m, c in applist if m == "APP1"):
        return False
    views = [kind for kind in _mp_types(mpf[4:]) if kind not in _MP_PREVIEWS]
    return len(views) > 1


def _mp_types(tiff: bytes) -> list[int]:
    try:
        tags = Image.Exif()
        tags.load(tiff)
        entries = tags.get(0xB002)
    except Exception as exc:
        # like Pillow, a JPEG with a malformed MPF index is read as a JPEG
        logger.debug("unreadable mpf index: %r", exc)
        return []
    if not isinstance(entries, bytes):
        return []
    order = "<" if tiff[:2] == b"II" else ">"
    usable = entries[: len(entries) // 16 * 16]
    return [attr & 0xFFFFFF for (attr,) in struct.iter_unpack(order + "I12x", usable)]


def _gif_frames(data: bytes) -> int:
    """How many images a GIF holds, walking its blocks without decoding."""
    pos = 13 + _color_table_size(data[10])
    frames = 0
    while pos < len(data):
        if data[pos] == 0x2C and pos + 10 < len(data):  # image descriptor
            frames += 1
            pos += 10 + _color_table_size(data[pos + 9]) + 1  # + LZW code size
        elif data[pos] == 0x21:  # extension: label, then sub-blocks
            pos += 2
        else:  # the trailer, or anything after the last readable block
            break
        pos = _skip_sub_blocks(data, pos)
    return frames


def _color_table_size(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data):
        length = data[pos]
        pos += 1 + length
        if length == 0:
            break
    return pos


def _boxes(data: bytes) -> Iterator[tuple[bytes, memoryview]]:
    """The top-level boxes of a JP2 or JPEG XL container, as (type, payload)."""
    view = memoryview(data)
    pos = 0
    while pos + 8 <= len(view):
        size, kind = struct.unpack_from(">I4s", view, pos)
        header = 8
        if size == 1 and pos + 16 <= len(view):
            (size,) = struct.unpack_from(">Q", view, pos + 8)
            header = 16
        elif size == 0:
            size = len(view) - pos
        if size < header:
            return
        yield kind, view[pos + header : pos + size]
        pos += size


def _riff_chunks(data: bytes) -> Iterator[tuple[bytes, memoryview]]:
    """The chunks of a RIFF file after its 12-byte header, as (type, payload)."""
    view = memoryview(data)
    pos = 12
    while pos + 8 <= len(view):
        kind = bytes(view[pos : pos + 4])
        size = _little(view[pos + 4 : pos + 8])
        yield kind, view[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)


def _vp8_size(payload: memoryview) -> tuple[int, int] | None:
    # a lossy key frame: 3-byte tag, start code, then 14-bit width and height
    if len(payload) < 10 or bytes(payload[3:6]) != b"\x9d\x01\x2a":
        return None
    return _little(payload[6:8]) & 0x3FFF, _little(payload[8:10]) & 0x3FFF


def _vp8l_size(payload: memoryview) -> tuple[int, int] | None:
    # a lossless stream: signature byte, then 14-bit width-1 and height-1
    if len(payload) < 5 or payload[0] != 0x2F:
        return None
    bits = _little(payload[1:5])
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1


def _little(raw: bytes | memoryview) -> int:
    return int.from_bytes(raw, "little")


def _jxl_parts(data: bytes) -> tuple[bytes, bytes | None]:
    """The start of a JPEG XL codestream and the file's EXIF data, if any."""
    if data.startswith(b"\xff\x0a"):
        return data[:64], None
    codestream = b""
    exif = None
    for kind, payload in _boxes(data):
        if kind == b"jxlc" and not codestream:
            codestream = bytes(payload[:64])
        elif kind == b"jxlp" and not codestream:
            codestream = bytes(payload[4:68])  # after the part's index
        elif kind == b"Exif" and len(payload) >= 4:
            offset = int.from_bytes(payload[:4], "big")
            exif = bytes(payload[4 + offset :])
    return codestream, exif


def _jxl_header(codestream: bytes) -> tuple[tuple[int, int], int]:
    """The coded size and orientation from a JPEG XL SizeHeader and ImageMetadata."""
    if not codestream.startswith(b"\xff\x0a"):
        raise CorruptImage("the JXL file holds no codestream")
    bits = _Bits(codestream[2:])
    small = bits.read(1) == 1
    height = _jxl_dimension(bits, small)
    ratio = bits.read(3)
    if ratio:
        numerator, denominator = _JXL_RATIOS[ratio]
        width = height * numerator // denominator
    else:
        width = _jxl_dimension(bits, small)
    orientation = 1
    if not bits.read(1) and bits.read(1):  # not all_default, has extra_fields
        orientation = 1 + bits.read(3)
    return (width, height), orientation


def _jxl_dimension(bits: _Bits, small: bool) -> int:
    if small:
        return 8 * (1 + bits.read(5))
    return 1 + bits.read(_JXL_DIMENSION_BITS[bits.read(2)])


class _Bits:
    """Reads the least significant bits first, as JPEG XL headers are packed."""

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "little")
        self._left = 8 * len(data)

    def read(self, count: int) -> int:
        if count > self._left:
            raise CorruptImage("the JXL header is cut short")
        value = self._value & ((1 << count) - 1)
        self._value >>= count
        self._left -= count
        return value
