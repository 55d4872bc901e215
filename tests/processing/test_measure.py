from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from processing.errors import (
    CorruptImage,
    NotAnImage,
    ProcessingError,
    TooLarge,
    UnsupportedFormat,
)
from processing.measure import Measurement, measure
from tests.shared import SHARED, load_manifest

MAX_PIXELS = 200_000_000
IMAGES = load_manifest("images")
CASES = load_manifest("cases")
RASTERS = [entry for entry in IMAGES if entry["format"] != "SVG"]
VECTORS = [entry for entry in IMAGES if entry["format"] == "SVG"]
MEASURING_CASES = ("h01", "h02", "h03", "h04", "h05", "h06", "h07", "h08", "h15")
ERRORS_BY_CLASS: dict[str, type[ProcessingError]] = {
    "image_too_large": TooLarge,
    "download_too_large": TooLarge,
    "unsupported_format": UnsupportedFormat,
    "not_an_image": NotAnImage,
    "empty_body": NotAnImage,
}
# the manifest's names for formats the contract names otherwise
CONTRACT_FORMATS = {
    "APNG": "PNG",
    "HEIC": "HEIF",
    "WebP": "WEBP",
    "JPEG XL": "JXL",
    "MPO (multi-picture JPEG)": "MPO",
    "JPEG 2000 (JP2)": "JPEG2000",
    "JPEG 2000 (J2K codestream)": "JPEG2000",
}
# the manifest counts icon sizes, HEIF images and MPO views; the contract does not
NOT_FRAMES = {"ICO", "HEIF", "MPO"}
CONTAINER_ROTATION = {"HEIF", "AVIF"}


def image_bytes(name: str) -> bytes:
    return (SHARED / "images" / name).read_bytes()


def case_bytes(case: dict[str, Any]) -> bytes:
    return (SHARED / "cases" / case["file"]).read_bytes() if case["file"] else b""


def expected(entry: dict[str, Any]) -> Measurement:
    image_format = CONTRACT_FORMATS.get(entry["format"], entry["format"])
    return Measurement(
        width=entry["display_width"],
        height=entry["display_height"],
        format=image_format,
        orientation=(
            None if image_format in CONTAINER_ROTATION else entry["exif_orientation"]
        ),
        frames=1 if image_format in NOT_FRAMES else entry["frames"],
    )


def seeds() -> list[bytes]:
    files = [image_bytes(entry["file"]) for entry in RASTERS]
    files += [case_bytes(case) for case in CASES if case["file"]]
    return [data[:65536] for data in files]


SEEDS = seeds()


@pytest.mark.parametrize("entry", RASTERS, ids=[e["file"] for e in RASTERS])
def test_every_shared_image_measures_as_displayed(entry: dict[str, Any]) -> None:
    result = measure(image_bytes(entry["file"]), max_pixels=MAX_PIXELS)

    assert result == expected(entry)


@pytest.mark.parametrize("entry", VECTORS, ids=[e["file"] for e in VECTORS])
def test_svg_is_unsupported_as_a_vector_format(entry: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedFormat, match="vector format with no pixel size"):
        measure(image_bytes(entry["file"]), max_pixels=MAX_PIXELS)


@pytest.mark.parametrize(
    "case",
    [case for case in CASES if case["id"].startswith(MEASURING_CASES)],
    ids=lambda case: case["id"],
)
def test_measuring_case_gives_its_expected_result(case: dict[str, Any]) -> None:
    want = case["expected"]
    data = case_bytes(case)

    if "error_class" in want:
        with pytest.raises(ERRORS_BY_CLASS[want["error_class"]]):
            measure(data, max_pixels=MAX_PIXELS)
    else:
        result = measure(data, max_pixels=MAX_PIXELS)
        assert (result.width, result.height) == (want["width"], want["height"])
        assert result.perimeter == want["perimeter"]


def test_every_measuring_case_is_in_the_manifest() -> None:
    found = {case["id"][:3] for case in CASES}

    assert set(MEASURING_CASES) <= found


def test_measures_from_a_memoryview() -> None:
    data = image_bytes("png_rgb_chelsea_451x300.png")

    result = measure(memoryview(data), max_pixels=MAX_PIXELS)

    assert (result.width, result.height, result.perimeter) == (451, 300, 1502)


def test_camera_previews_in_mpf_keep_a_jpeg_a_jpeg() -> None:
    result = measure(
        image_bytes("jpeg_large_nikond5300_6000x4000.jpg"), max_pixels=MAX_PIXELS
    )

    assert (result.format, result.frames) == ("JPEG", 1)


@pytest.mark.parametrize("image_format", ["HEIF", "AVIF"])
def test_container_rotation_is_applied_once(image_format: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.new("RGB", (64, 40)).save(buffer, image_format, exif=exif.tobytes())

    result = measure(buffer.getvalue(), max_pixels=MAX_PIXELS)

    assert (result.width, result.height) == (40, 64)
    assert (result.format, result.orientation) == (image_format, None)


@pytest.mark.parametrize("image_format", ["GIF", "PNG", "WEBP", "AVIF", "TIFF"])
def test_animation_frames_and_tiff_pages_are_counted(image_format: str) -> None:
    frames = [Image.new("RGB", (30, 20), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, image_format, save_all=True, append_images=frames[1:])

    result = measure(buffer.getvalue(), max_pixels=MAX_PIXELS)

    assert (result.width, result.height, result.frames) == (30, 20, 3)


def jxl_codestream(width: int, height: int, orientation: int) -> bytes:
    # SizeHeader with small=1 (sizes in eights) and ratio=0, then ImageMetadata
    # with all_default=0, extra_fields=1 and the orientation, bits packed LSB first
    fields = [(1, 1), (height // 8 - 1, 5), (0, 3), (width // 8 - 1, 5)]
    fields += [(0, 1), (1, 1), (orientation - 1, 3)]
    value = shift = 0
    for field, bits in fields:
        value |= field << shift
        shift += bits
    return b"\xff\x0a" + value.to_bytes(16, "little")


@pytest.mark.parametrize(("orientation", "size"), [(1, (64, 40)), (6, (40, 64))])
def test_jxl_codestream_orientation_turns_the_size(
    orientation: int, size: tuple[int, int]
) -> None:
    result = measure(jxl_codestream(64, 40, orientation), max_pixels=MAX_PIXELS)

    assert (result.width, result.height) == size
    assert (result.format, result.orientation) == ("JXL", None)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "empty"),
        (b"   \n\t ", "blank"),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "HTML page"),
        (b"<html><body><svg width='9' height='9'></svg></body></html>", "HTML page"),
        (b"\xef\xbb\xbf<p>gone</p>", "HTML page"),
        (b'{"error": "not found", "status": 404}', "JSON"),
        (b"[1, 2, 3]", "JSON"),
        (b"Service temporarily unavailable, try again later.", "plain text"),
        (b'<?xml version="1.0"?><feed><entry/></feed>', "XML document"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"\x00\x01\x02\x03\x04\x05garbage\xfe\xff", "not in any known image"),
    ],
    ids=[
        "empty",
        "blank",
        "html",
        "html-with-inline-svg",
        "html-fragment-with-bom",
        "json-object",
        "json-array",
        "text",
        "xml",
        "pdf",
        "binary",
    ],
)
def test_non_images_are_not_an_image(data: bytes, says: str) -> None:
    with pytest.raises(NotAnImage, match=says):
        measure(data, max_pixels=MAX_PIXELS)


@pytest.mark.parametrize(
    "data",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        b'<?xml version="1.0"?>\n<!-- drawn by hand -->\n<svg:svg xmlns:svg="x"/>',
        b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd" [\n]>\n<svg/>',
        '<svg width="1" height="1"/>'.encode("utf-16"),
    ],
    ids=["bare", "prefixed-after-comment", "doctype", "utf-16"],
)
def test_svg_in_any_spelling_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedFormat, match="SVG is a vector format"):
        measure(data, max_pixels=MAX_PIXELS)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"qoif\x00\x00\x00\x10\x00\x00\x00\x10\x03\x00", "QOI"),
        (b"P6\n2 2\n255\n" + bytes(12), "Netpbm"),
        (b"8BPS\x00\x02" + bytes(20), "PSB"),
        (b"DDS |\x00\x00\x00" + bytes(120), "DDS"),
    ],
    ids=["qoi", "ppm", "psb", "dds"],
)
def test_known_unsupported_rasters_are_named(data: bytes, name: str) -> None:
    with pytest.raises(UnsupportedFormat, match=name):
        measure(data, max_pixels=MAX_PIXELS)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        image_bytes("jpeg_1x1.jpg")[:40],
        b"GIF89a\x01",
        b"\xff\x0a\x01",
        b"RIFF\x00\x00\x00\x00WEBPVP8 garbage",
    ],
    ids=["png-without-ihdr", "jpeg-cut-before-sof", "gif-cut", "jxl-cut", "webp"],
)
def test_unreadable_headers_are_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptImage):
        measure(data, max_pixels=MAX_PIXELS)


def test_jpeg_without_a_frame_header_is_corrupt() -> None:
    case = next(case for case in CASES if case["id"].startswith("h14"))

    with pytest.raises(CorruptImage):
        measure(case_bytes(case), max_pixels=MAX_PIXELS)


def test_pixel_cap_is_the_callers() -> None:
    data = image_bytes("png_rgb_chelsea_451x300.png")

    assert measure(data, max_pixels=451 * 300).width == 451
    with pytest.raises(TooLarge, match="451x300"):
        measure(data, max_pixels=451 * 300 - 1)


@pytest.mark.parametrize("entry", RASTERS, ids=[e["file"] for e in RASTERS])
def test_pixel_cap_applies_to_every_format(entry: dict[str, Any]) -> None:
    with pytest.raises(TooLarge):
        measure(image_bytes(entry["file"]), max_pixels=0)


def test_errors_carry_the_url() -> None:
    url = "https://example.test/shelf.jpg"

    with pytest.raises(NotAnImage) as caught:
        measure(b"", max_pixels=MAX_PIXELS, url=url)

    assert caught.value.url == url
    assert caught.value.code == "NOT_AN_IMAGE"


def test_measuring_in_threads_gives_the_same_results() -> None:
    files = [image_bytes(entry["file"]) for entry in RASTERS] * 4

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda d: measure(d, max_pixels=MAX_PIXELS), files))

    assert results == [expected(entry) for entry in RASTERS] * 4


def assert_measures_or_fails_cleanly(data: bytes) -> None:
    try:
        result = measure(data, max_pixels=MAX_PIXELS)
    except ProcessingError:
        return
    assert result.width > 0 and result.height > 0 and result.frames > 0
    assert result.width * result.height <= MAX_PIXELS
    assert result.orientation is None or 1 <= result.orientation <= 8


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_escape_as_other_errors(data: bytes) -> None:
    assert_measures_or_fails_cleanly(data)


@st.composite
def damaged_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        position = draw(st.integers(0, min(len(data), 2048) - 1))
        data[position] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@settings(max_examples=200, deadline=None)
@given(damaged_images())
def test_damaged_real_headers_never_escape_as_other_errors(data: bytes) -> None:
    assert_measures_or_fails_cleanly(data)
