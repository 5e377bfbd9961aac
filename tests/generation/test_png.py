"""The workers' PNG encoder: lossless in every mode, pixels only, smaller than Pillow's."""

import io
import struct

import numpy as np
import pytest
from PIL import Image as PILImage

from generation import png


def chunk_types(data: bytes) -> list[bytes]:
    assert data[:8] == png.SIGNATURE
    types, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        types.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return types


def generated_like(height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    """Smooth gradients with a little noise, like a sampler's output."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    planes = [(x * (0.5 + c / 3) + y * (1 - c / 4) + 40 * c) % 256 for c in range(channels)]
    pixels = np.stack(planes, -1) + rng.normal(0, 5, (height, width, channels))
    return np.clip(pixels, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("mode, channels", [("RGB", 3), ("RGBA", 4), ("L", 1)])
@pytest.mark.parametrize("level", [0, 1, 2, 9])
def test_every_pixel_survives_the_round_trip_through_pillow(mode, channels, level):
    pixels = generated_like(37, 53, channels)  # odd sizes: no row or width assumption
    image = PILImage.fromarray(pixels[..., 0] if channels == 1 else pixels, mode)
    data = png.encode(image, level)
    decoded = PILImage.open(io.BytesIO(data))
    assert decoded.mode == mode and decoded.size == (53, 37)
    assert np.array_equal(np.asarray(decoded), np.asarray(image))


def test_extreme_values_wrap_correctly_in_the_up_filter():
    pixels = np.zeros((4, 4, 3), np.uint8)
    pixels[1::2] = 255  # rows alternate 0 and 255: differences of +255 and -255
    data = png.encode(PILImage.fromarray(pixels, "RGB"))
    assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(data))), pixels)


def test_the_file_holds_pixels_only():
    image = PILImage.fromarray(generated_like(64, 64, 3), "RGB")
    image.info["parameters"] = "made by zephyrturbo, 1 step"  # as some pipelines annotate
    data = png.encode(image)
    assert chunk_types(data) == [b"IHDR", b"IDAT", b"IEND"]
    assert b"zephyrturbo" not in data


def test_modes_png_cannot_hold_as_8_bit_grey_or_colour_go_to_pillow_losslessly():
    palette = PILImage.fromarray(generated_like(16, 16, 3), "RGB").convert("P")
    data = png.encode(palette)
    assert chunk_types(data)[0] == b"IHDR" and b"tEXt" not in chunk_types(data)
    assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB")), np.asarray(palette.convert("RGB")))


def test_a_generated_looking_image_is_no_larger_than_pillows_fastest():
    image = PILImage.fromarray(generated_like(256, 256, 3), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    assert len(png.encode(image, 2)) <= len(buffer.getvalue())
