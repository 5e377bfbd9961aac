"""Pure image operations for the rater side (no storage, no ORM)."""

from __future__ import annotations

import io


def degrade_png(png_bytes: bytes, *, seed: int) -> bytes:
    """A heavily blurred and noised copy, same size and format (PNG, RGB), no metadata: the
    clearly worse image of an attention check. Encoded as a display copy (uncompressed), so
    its byte length is that of the real images beside it."""
    from generation import png

    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageFilter

    with PILImage.open(io.BytesIO(png_bytes)) as original:
        picture = original.convert("RGB")
    blurred = picture.filter(ImageFilter.GaussianBlur(radius=max(2, picture.width // 16)))
    noise = np.random.default_rng(seed).normal(0, 60, (picture.height, picture.width, 3))
    pixels = np.clip(np.asarray(blurred, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return png.encode_display(PILImage.fromarray(pixels, "RGB"))
