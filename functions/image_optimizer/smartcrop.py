"""Where a crop should sit when the caller asks the image: ``position=entropy`` or ``attention``.

Both look at a small copy of the picture (a few hundred pixels across, upright), so that they
cost a few milliseconds however large the source; the pipeline scales the answer back up.
They mean what sharp's strategies of the same names mean:

- entropy keeps the busiest region: the window is narrowed a strip at a time from whichever side
  has less detail (lower Shannon entropy of its grey levels), as libvips' smartcrop does;
- attention keeps the region most likely to hold the subject: it scores every pixel for the
  things that draw the eye (skin tones, saturated colour, edges of light and dark) and slides the
  window to where the score adds up highest.

A cover crop keeps the whole of one side of the source, so the window only ever moves along the
other; both strategies still work on each axis in turn, which also covers the rare window that
is narrower than the source both ways.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageChops, ImageFilter

from image_optimizer.parameters import Position

LOOK_SIDE = 256  # the small copy's longer side, in pixels
_STRIPS = 16  # entropy narrows the window in about this many steps a side

# How much each thing draws the eye, per pixel (0-255 each): skin matters most.
_SKIN, _SATURATION, _EDGES = 3, 1, 2
# Skin tones in YCbCr, as the usual chroma box (Chai and Ngan, 1999).
_SKIN_CB, _SKIN_CR = (77, 127), (133, 173)

Window = tuple[int, int]  # width, height in the small copy's pixels


def offset(small: Image.Image, window: Window, strategy: Position) -> tuple[float, float]:
    """Where the ``window`` best sits on ``small`` (its left and top, in ``small``'s pixels)."""
    picture = small.convert("RGB")
    choose = _busiest if strategy is Position.ENTROPY else _most_striking
    return choose(picture, window)


def _busiest(picture: Image.Image, window: Window) -> tuple[float, float]:
    grey = picture.convert("L")
    left, right = _narrowed(
        grey.width, window[0], lambda a, b: grey.crop((a, 0, b, grey.height)).entropy()
    )
    top, _ = _narrowed(
        grey.height, window[1], lambda a, b: grey.crop((left, a, right, b)).entropy()
    )
    return left, top


def _narrowed(length: int, wanted: int, detail: Callable[[int, int], float]) -> tuple[int, int]:
    """The span ``wanted`` long left of ``length`` after trimming, strip by strip, the end whose
    strip has less detail."""
    start, end = 0, length
    step = max(1, (length - wanted) // _STRIPS)
    while end - start > wanted:
        cut = min(step, end - start - wanted)
        if detail(start, start + cut) <= detail(end - cut, end):
            start += cut
        else:
            end -= cut
    return start, end


def _most_striking(picture: Image.Image, window: Window) -> tuple[float, float]:
    score = _attention(picture)
    columns = _profile(score.resize((score.width, 1), Image.Resampling.BOX))
    rows = _profile(score.resize((1, score.height), Image.Resampling.BOX))
    return _best_start(columns, window[0]), _best_start(rows, window[1])


def _attention(picture: Image.Image) -> Image.Image:
    """Each pixel's pull on the eye, 0 to 255: skin tones, saturation and edges, weighted."""
    _, cb, cr = picture.convert("YCbCr").split()
    skin = ImageChops.multiply(_within(cb, _SKIN_CB), _within(cr, _SKIN_CR))
    saturation = picture.convert("HSV").getchannel("S")
    edges = picture.convert("L").filter(ImageFilter.FIND_EDGES)
    total = _SKIN + _SATURATION + _EDGES
    weighted = [
        layer.point(lambda value, weight=weight: value * weight / total)
        for layer, weight in ((skin, _SKIN), (saturation, _SATURATION), (edges, _EDGES))
    ]
    return ImageChops.add(ImageChops.add(weighted[0], weighted[1]), weighted[2])


def _within(channel: Image.Image, bounds: tuple[int, int]) -> Image.Image:
    low, high = bounds
    return channel.point(lambda value: 255 if low <= value <= high else 0)


def _profile(line: Image.Image) -> list[int]:
    return list(line.tobytes())  # one 8-bit grey value per pixel


def _best_start(profile: list[int], length: int) -> int:
    """Where a run ``length`` long over ``profile`` adds up highest (the middlemost on a tie)."""
    if length >= len(profile):
        return 0
    total = sum(profile[:length])
    best, best_start = total, 0
    middle = (len(profile) - length) / 2
    for start in range(1, len(profile) - length + 1):
        total += profile[start + length - 1] - profile[start - 1]
        if total > best or (total == best and abs(start - middle) < abs(best_start - middle)):
            best, best_start = total, start
    return best_start
