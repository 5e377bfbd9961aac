"""Lossless PNG encoding for the images workers store, about three times faster than Pillow's.

On a GPU a 1-step model makes a 512-pixel image in about 0.2 s, and Pillow's encoder at its
fastest level takes a third of that: it tries every PNG row filter on every row, then deflates
with zlib. Here every row takes the "Up" filter (the difference to the row above, one numpy
subtraction), which suits the smooth gradients of generated images as well as Pillow's per-row
choice, and zlib-ng deflates: at level 2 both faster and smaller than zlib at level 1.

The file holds the IHDR, IDAT and IEND chunks only: no text, time or colour-profile chunk, so
nothing in it can name the model that made it. Images in a mode PNG cannot store as 8-bit
grey, RGB or RGBA go to Pillow, which writes no metadata either.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from zlib_ng import zlib_ng

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {"L": 0, "RGB": 2, "RGBA": 6}
UP = 2  # PNG filter type


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode(pil_image, level: int = 2) -> bytes:
    """The image as a PNG file; ``level`` is the deflate level, 0 (none) to 9 (smallest)."""
    level = min(max(level, 0), 9)
    colour_type = COLOUR_TYPES.get(pil_image.mode)
    if colour_type is None:
        buffer = io.BytesIO()
        pil_image.save(buffer, format="PNG", compress_level=level)
        return buffer.getvalue()
    pixels = np.asarray(pil_image, dtype=np.uint8)
    height = pixels.shape[0]
    rows = pixels.reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = UP
    filtered[0, 1:] = rows[0]  # the row above the first is zeros
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # modulo 256, as PNG defines it
    header = struct.pack(">IIBBBBB", pil_image.width, height, 8, colour_type, 0, 0, 0)
    return b"".join((
        SIGNATURE,
        _chunk(b"IHDR", header),
        _chunk(b"IDAT", zlib_ng.compress(filtered.tobytes(), level)),
        _chunk(b"IEND", b""),
    ))
