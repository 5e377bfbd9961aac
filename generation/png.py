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


# Display copies: what raters download. Their byte length must not tell one model (or an
# attention check's decoy) from another, and a compressed file's length depends on its content.
# So they are stored uncompressed (deflate's "stored" blocks, no row filter, RGB): the length
# is a function of width and height alone, the same for every image a study shows.
STORED_BLOCK = 65535


def _stored_zlib(raw: bytes) -> bytes:
    blocks = [b"\x78\x01"]  # zlib header: deflate, 32K window, no dictionary, level "fastest"
    view = memoryview(raw)
    offsets = range(0, max(len(raw), 1), STORED_BLOCK)
    for offset in offsets:
        part = view[offset : offset + STORED_BLOCK]
        final = 1 if offset + STORED_BLOCK >= len(raw) else 0
        blocks.append(struct.pack("<BHH", final, len(part), len(part) ^ 0xFFFF))
        blocks.append(bytes(part))
    blocks.append(struct.pack(">I", zlib.adler32(raw)))
    return b"".join(blocks)


def display_length(width: int, height: int) -> int:
    """The byte length of every display copy of this size (see ``encode_display``)."""
    raw = height * (3 * width + 1)
    blocks = max(1, -(-raw // STORED_BLOCK))
    idat = 2 + 5 * blocks + raw + 4
    return len(SIGNATURE) + (12 + 13) + (12 + idat) + 12


def encode_display(pil_image) -> bytes:
    """A display copy: RGB pixels only, uncompressed, so its length is ``display_length(w, h)``."""
    pixels = np.asarray(pil_image.convert("RGB"), dtype=np.uint8)
    height, width = pixels.shape[:2]
    rows = np.zeros((height, 3 * width + 1), dtype=np.uint8)  # filter byte 0 ("None") per row
    rows[:, 1:] = pixels.reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join((SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", _stored_zlib(rows.tobytes())), _chunk(b"IEND", b"")))


def dimensions(content: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header, without decoding it; None if it is not a PNG."""
    if len(content) < 24 or not content.startswith(SIGNATURE) or content[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", content[16:24])


def blind(content: bytes) -> bytes:
    """``content`` as a display copy of fixed length: as it is when it already is one (every copy
    stored since display copies are uncompressed), else decoded and re-encoded (older copies)."""
    size = dimensions(content)
    if size is not None and len(content) == display_length(*size) and content[25] == 2:
        return content
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(content)) as picture:
        return encode_display(picture)
