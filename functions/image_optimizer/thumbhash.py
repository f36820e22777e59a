"""ThumbHash (Evan Wallace's): a picture's placeholder in about 25 bytes, keeping its aspect
ratio and alpha. This is the reference encoder (``rgbaToThumbHash`` in evanw/thumbhash's
JavaScript) line for line, in the same order of floating-point operations, so that it gives
the reference's bytes exactly; the tests hold it to the reference run under node.

Pure Python (the layer carries no numpy): the DCT is about 50 sums over the pixels, so images
are given to it small (`MAX_SIDE`), which costs a placeholder nothing visible.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from functools import reduce

MAX_SIDE = 32
"""The reference takes up to 100x100; at 32 the hash looks the same and costs a tenth."""


def _round(value: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round() goes to even)."""
    return math.floor(value + 0.5)


def encode(width: int, height: int, rgba: bytes) -> bytes:
    """The ThumbHash of ``width`` x ``height`` pixels of straight (not premultiplied) RGBA."""
    if not (0 < width <= 100 and 0 < height <= 100) or len(rgba) != width * height * 4:
        raise ValueError(f"{width}x{height} RGBA of {len(rgba)} bytes does not fit in 100x100")
    pixels = width * height
    avg_r = avg_g = avg_b = avg_a = 0.0
    for j in range(0, pixels * 4, 4):
        alpha = rgba[j + 3] / 255
        avg_r += alpha / 255 * rgba[j]
        avg_g += alpha / 255 * rgba[j + 1]
        avg_b += alpha / 255 * rgba[j + 2]
        avg_a += alpha
    if avg_a:
        avg_r /= avg_a
        avg_g /= avg_a
        avg_b /= avg_a

    has_alpha = avg_a < pixels
    l_limit = 5 if has_alpha else 7  # fewer luminance terms when alpha needs the room
    lx = max(1, _round(l_limit * width / max(width, height)))
    ly = max(1, _round(l_limit * height / max(width, height)))
    lum, yellow_blue, red_green, opacity = [], [], [], []
    for j in range(0, pixels * 4, 4):  # composited onto the average colour
        alpha = rgba[j + 3] / 255
        r = avg_r * (1 - alpha) + alpha / 255 * rgba[j]
        g = avg_g * (1 - alpha) + alpha / 255 * rgba[j + 1]
        b = avg_b * (1 - alpha) + alpha / 255 * rgba[j + 2]
        lum.append((r + g + b) / 3)
        yellow_blue.append((r + g) / 2 - b)
        red_green.append(r - g)
        opacity.append(alpha)

    def channel(values: Sequence[float], nx: int, ny: int) -> tuple[float, list[float], float]:
        dc, ac, scale = 0.0, [], 0.0
        for cy in range(ny):
            cx = 0
            while cx * ny < nx * (ny - cy):
                fx = [math.cos(math.pi / width * cx * (x + 0.5)) for x in range(width)]
                # Summed one product at a time, as the reference does (sum() would compensate).
                products = [
                    values[x + y * width] * fx[x] * fy
                    for y in range(height)
                    for fy in (math.cos(math.pi / height * cy * (y + 0.5)),)
                    for x in range(width)
                ]
                f = reduce(operator.add, products, 0.0) / pixels
                if cx or cy:
                    ac.append(f)
                    scale = max(scale, abs(f))
                else:
                    dc = f
                cx += 1
        if scale:
            ac = [0.5 + 0.5 / scale * f for f in ac]
        return dc, ac, scale

    l_dc, l_ac, l_scale = channel(lum, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = channel(yellow_blue, 3, 3)
    q_dc, q_ac, q_scale = channel(red_green, 3, 3)
    a_dc, a_ac, a_scale = channel(opacity, 5, 5) if has_alpha else (0.0, [], 0.0)

    landscape = width > height
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (has_alpha << 23)
    )
    header16 = (
        (ly if landscape else lx)
        | (_round(63 * p_scale) << 3)
        | (_round(63 * q_scale) << 9)
        | (landscape << 15)
    )
    head = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    if has_alpha:
        head.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
    factors = [*l_ac, *p_ac, *q_ac, *(a_ac if has_alpha else [])]
    tail = [0] * ((len(factors) + 1) // 2)
    for index, factor in enumerate(factors):
        tail[index >> 1] |= _round(15 * factor) << ((index & 1) << 2)
    return bytes(head + tail)
