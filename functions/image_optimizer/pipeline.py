"""The pipeline: source bytes + `TransformSpec` -> encoded image bytes. Pure: no I/O, no globals.

Ordered lists of small steps over one `_Work` context, each timed under a stage name (the step
tables sit beside `render`, at the end). The decode steps run once; the frame steps run on each
frame that goes out (one for a still, every frame of an animation kept as one); the encode step
runs once.

decode   open (the input formats' decoders only, pixels of all frames counted first), read the
         orientation (with ``rotate`` and ``flip`` joined to it) and plan the geometry,
         `draft()` a JPEG down to no less than the target (and, for a JPEG output, to YCbCr
         as stored), load the pixels
resize   for ``position=entropy|attention`` move the crop to what a small copy shows; bring
         exotic modes to L/LA/RGB/RGBA/CMYK, crop + resize in the stored frame (carrying
         draft's scale so the output does not shift; for a JPEG, as YCbCr with its colour
         planes at half the output's size, all that 4:2:0 keeps), then turn it upright
colour   alpha flattened (onto ``bg``) where the format has none (before the resize, where it
         is cheaper), CMYK -> sRGB, ICC profile policy, ``grayscale``, padding (with ``bg``)
filter   ``blur`` then ``sharpen``, on the output's pixels (their sigmas are in them; YCbCr
         plane by plane, the colour planes at their half size)
overlay  the watermarks, each scaled once for the output and drawn over every frame
encode   keep each frame made, then save with the format table's options (every frame, with its
         duration and the loop count, for an animation), no metadata but the colour profile, into
         a buffer that stops the encoder once the output passes the byte limit
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Buffer, Callable, Sequence
from functools import partial
from typing import NamedTuple

# The *ImagePlugin imports register exactly the five web formats, which keeps Pillow from
# importing all of its ~45 plugins (Image.init()) the first time a WebP or AVIF is opened or
# saved: about 20 ms off a container's first miss.
from PIL import (  # noqa: F401 (the plugins are imported for their registration)
    AvifImagePlugin,
    GifImagePlugin,
    Image,
    ImageFilter,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from image_optimizer import colour, orientation, smartcrop
from image_optimizer.decoders import decoding, opened
from image_optimizer.errors import (
    ImageTooLarge,
    OutputTooLarge,
    TimeBudgetExceeded,
    TooManyFrames,
)
from image_optimizer.formats import (
    GIF,
    OutputFormat,
    default_output_format,
)
from image_optimizer.geometry import Box, Geometry, Size, plan
from image_optimizer.overlay import Overlay, Placed, composite
from image_optimizer.settings import DEFAULT_MAX_ANIMATION_FRAMES
from image_optimizer.spec import TransformSpec

SHARPEN_PERCENT = 100
"""How much of the detail an unsharp mask adds back: a plain sharpen, as sharp's (its m1 and m2
of 1 and 2 double the edges' strength, and so does this)."""

RESAMPLING = Image.Resampling.LANCZOS
"""Measured against Pillow's MKS2013: that resizes 10-25% faster and scores higher at the same
`q`, but only because it is sharper: 4-7% more bytes, and no better at equal bytes."""

REDUCING_GAP = 2.0
"""`resize()` first shrinks by whole factors with a box filter while the rest stays >= 2x.

Measured against 3.0: an RGBA PNG to 400 px JPEG 55 -> 26 ms, SSIM unchanged to 4 decimals."""

_OUT_OF_TIME = "the image could not be made in the time left; try again shortly"
_OPAQUE_MODES = ("L", "RGB", "CMYK", "YCbCr")  # YCbCr: a JPEG drafted for `_resized_chroma_at_half`
_PADDING = {"RGBA": (255, 255, 255, 0), "LA": (255, 0), "RGB": (255, 255, 255), "L": 255}


class Rendition(NamedTuple):
    """An encoded image and what is known about how it was made."""

    body: bytes
    output_format: OutputFormat
    width: int
    height: int
    source_format: str
    source_width: int  # as displayed, after EXIF orientation
    source_height: int
    timings: dict[str, float]  # milliseconds per stage
    frames: int = 1  # more than one: an animation, every frame kept


class _Work:
    """What the steps share: the request, then what each step finds out or makes."""

    source: Image.Image  # as opened: its frames are reached with seek()
    image: Image.Image  # the frame being worked on
    geometry: Geometry  # in the displayed frame
    output: OutputFormat

    def __init__(
        self,
        data: bytes,
        spec: TransformSpec,
        max_pixels: int,
        max_bytes: float,
        max_frames: int,
        overlays: Sequence[Overlay],
    ) -> None:
        self.data, self.spec, self.overlays = data, spec, overlays
        self.max_pixels, self.max_bytes, self.max_frames = max_pixels, max_bytes, max_frames
        self.source_format = ""
        self.orientation = 1
        self.stored_size: Size = (0, 0)  # the source's pixels as stored
        self.source_size: Size = (0, 0)  # as displayed
        self.stored_crop: Box = (0, 0, 0, 0)  # the geometry's crop and size in the stored frame
        self.stored_target: Size = (0, 0)
        self.scale = 1.0  # of the decoded pixels to the stored ones: less after a JPEG draft
        self.chroma_at_half = False  # a JPEG's colour planes may be resized to half the output
        self.icc_profile: bytes | None = None
        self.frame_count = 1  # the frames that go out
        self.frames: list[Image.Image] = []  # made, in order
        self.durations: list[int] = []  # milliseconds a frame
        self.placed: list[Placed] | None = None  # the overlays at the output's size, once scaled
        self.body = b""


def _open(work: _Work) -> None:
    work.source = work.image = opened(work.data, work.max_pixels)


def _inspect(work: _Work) -> None:
    """Read what the header says; settle the geometry, the output format and the frames."""
    image = work.image
    work.source_format = image.format or ""
    spec = work.spec
    # The user's turn and mirror join the EXIF orientation: one of the eight ways to lie.
    work.orientation = orientation.turned(
        orientation.read(image, work.data), spec.rotate, spec.flip
    )
    work.icc_profile = image.info.get("icc_profile") or None
    work.stored_size = image.size
    work.source_size = orientation.displayed_size(image.size, work.orientation)
    _settle(work, plan(work.source_size, work.spec))
    work.output = work.spec.output_format or default_output_format(
        work.source_format, has_alpha(image)
    )
    frames = 1
    if work.output.animates and not work.spec.still:  # a still needs no count
        with decoding(work.max_pixels):
            frames = frames_up_to(image, work.max_frames + 1)
    if frames > 1:
        if frames > work.max_frames:
            raise TooManyFrames(
                f"the animation has more than the {work.max_frames} frames allowed; "
                "ask for frames=1 for a still"
            )
        width, height = image.size
        if width * height * frames > work.max_pixels:
            raise ImageTooLarge(
                f"the animation's {frames} frames have more than {work.max_pixels} pixels "
                "together; ask for frames=1 for a still"
            )
        work.frame_count = frames
    # Only when the pixels can stay YCbCr until the encoder: Pillow does not pad them, and
    # going back to RGB would cost more than the planes save (and its YCbCr -> RGB truncates:
    # half a level that cost SSIMULACRA2 two points).
    work.chroma_at_half = work.output.halves_chroma and work.geometry.canvas == work.geometry.size
    width, height = work.geometry.canvas
    output_pixels = width * height * work.frame_count
    if output_pixels > work.output.max_pixels:  # known before a pixel is decoded
        raise OutputTooLarge.costly(work.output.name.upper(), output_pixels, work.output.max_pixels)


def frames_up_to(image: Image.Image, limit: int) -> int:
    """The source's frames, counted no further than ``limit``: a GIF says how many it has only
    by being read to its end (a million 1x1 frames took seconds just to count)."""
    if image.format == "HEIF":
        return 1  # a HEIF file's images are a burst or a collection, never an animation
    if image.format != "GIF":
        return int(getattr(image, "n_frames", 1))  # WebP and AVIF say in their header
    # As Pillow's own `n_frames` counts (which has no limit): each frame's header is read and
    # its pixels skipped. `seek()` would decode every frame, to be decoded again for the
    # output: 29 of the 44-frame corpus GIF's 35 ms for format=json.
    count = 1
    try:
        while count < limit:
            image._seek(count, update_image=False)  # type: ignore[attr-defined]
            count += 1
    except EOFError:
        pass  # the last frame was the one before
    image.seek(0)
    return count


def _draft(work: _Work) -> None:
    """Let a JPEG decode at 1/2, 1/4 or 1/8 scale when the target is that much smaller, and
    as YCbCr (as stored: no conversion) when its colour planes will be resized apart."""
    image = work.image
    if image.format not in ("JPEG", "MPO"):
        return
    reduction = _reduction(work.stored_crop, work.stored_target)
    as_ycbcr = work.chroma_at_half and image.mode == "RGB"
    if reduction < 2 and not as_ycbcr:
        return
    # draft() picks the largest scale that keeps the image at least as big as asked; the crop's
    # size, not its place, decides it, so a strategy may still move the crop afterwards.
    full_size = work.stored_size
    wanted = (math.ceil(full_size[0] / reduction), math.ceil(full_size[1] / reduction))
    drafted = image.draft("YCbCr" if as_ycbcr else None, wanted if reduction >= 2 else None)
    if drafted is not None:
        _, full_box = drafted  # the whole source in the new scale, fractional at the edges
        work.scale = full_box[2] / full_size[0]


def _aim(work: _Work) -> None:
    """For ``position=entropy|attention``, move the crop to what a small upright copy shows."""
    position = work.spec.position
    if not position.chooses_by_looking:
        return
    small = work.image.copy()
    small.thumbnail((smartcrop.LOOK_SIDE, smartcrop.LOOK_SIDE), Image.Resampling.BOX)
    small = orientation.upright(small, work.orientation)
    to_small = small.width / work.source_size[0]  # displayed source pixels -> small pixels
    left, top, right, bottom = work.geometry.crop
    window = (round((right - left) * to_small), round((bottom - top) * to_small))
    x, y = smartcrop.offset(small, window, position)
    _settle(work, work.geometry.moved_to(x / to_small, y / to_small, work.source_size))


def _settle(work: _Work, geometry: Geometry) -> None:
    """Take ``geometry``, and where its crop and size lie in the pixels as stored."""
    work.geometry = geometry
    work.stored_crop = orientation.stored_box(geometry.crop, work.stored_size, work.orientation)
    work.stored_target = orientation.stored_size(geometry.size, work.orientation)


def _next_frame(work: _Work, index: int) -> None:
    """The animation's frame ``index``, as the whole canvas (Pillow applies the disposal)."""
    with decoding(work.max_pixels):
        work.source.seek(index)
        work.source.load()
    work.image = work.source.convert("RGBA")  # a copy: the source seeks on, the frames stay


def _load(work: _Work) -> None:
    _load_strictly(work.image, work.max_pixels)
    if work.frame_count > 1:  # every frame in one mode, each a copy of its own
        work.image = work.image.convert("RGBA")


def _load_strictly(image: Image.Image, max_pixels: int) -> None:
    with decoding(max_pixels):
        image.load()


def _normalise_mode(work: _Work) -> None:
    image = work.image
    if image.mode in _OPAQUE_MODES or image.mode in colour.ALPHA_MODES:
        return
    if image.mode.startswith("I"):
        # 16-bit (or 32-bit) grey: scale into 8 bits rather than clipping at 255.
        work.image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    elif image.mode == "1":
        work.image = image.convert("L")
    else:  # P, PA, and anything else a decoder may hand over
        work.image = image.convert("RGBA" if has_alpha(image) else "RGB")


def _flatten(work: _Work) -> None:
    """Alpha onto white (or ``bg``) for a format without it, before the resize: resizing three
    channels without premultiplying took an RGBA PNG to a 400 px JPEG from 99.6 to 74.0 ms.
    Blurring and sharpening are linear, so flattening before them gives what flattening after
    would."""
    work.image = colour.without_alpha_for(work.image, work.output, _background(work.spec))


def _resize(work: _Work) -> None:
    image, stored, target = work.image, work.stored_crop, work.stored_target
    crop = (
        stored[0] * work.scale,
        stored[1] * work.scale,
        stored[2] * work.scale,
        stored[3] * work.scale,
    )
    whole_pixels = tuple(round(edge) for edge in crop)
    if crop == (0, 0, *image.size) and target == image.size:
        resized = image
    elif whole_pixels == crop and (crop[2] - crop[0], crop[3] - crop[1]) == target:
        resized = image.crop(whole_pixels)  # same scale: cutting is exact and cheaper
    elif image.mode == "RGBA":
        resized = _resized_rgba(image, target, crop)
    elif work.chroma_at_half and image.mode in ("RGB", "YCbCr"):
        far_edges = orientation.starts_at_far_edges(work.orientation)
        resized = _resized_chroma_at_half(image, target, crop, far_edges)
    else:
        resized = _resized(image, target, crop)
    work.image = resized


def _resized(image: Image.Image, target: Size, crop: Box) -> Image.Image:
    return image.resize(target, RESAMPLING, box=crop, reducing_gap=REDUCING_GAP)


def _resized_rgba(image: Image.Image, target: Size, crop: Box) -> Image.Image:
    """Pillow's premultiplied RGBA resize, byte for byte, with a cheaper premultiply.

    `resize()` premultiplies the whole image first (RGBA -> RGBa, ~11 ns a pixel). Compositing it
    onto black gives the same premultiplied colours in half the time. When `reduce()` shrinks
    first, the colours and the alpha band are resized apart and joined when small (a 3 MP PNG to
    400 px: 60.9 -> 47.3 ms); otherwise resizing the alpha band on its own costs more than that
    saves (to 1200 px: 126 -> 143 ms), so they are joined first and resized as RGBa, which
    beats Pillow's own premultiply there too (to 1200 px: 134 -> 123 ms).
    """
    colours, alpha = colour.composited_on(image, "black"), image.getchannel("A")
    if _reduction(crop, target) >= 2 * REDUCING_GAP:
        resized = _premultiplied(_resized(colours, target, crop), _resized(alpha, target, crop))
    else:
        resized = _resized(_premultiplied(colours, alpha), target, crop)
    return resized.convert("RGBA")


def _resized_chroma_at_half(
    image: Image.Image, target: Size, crop: Box, far_edges: tuple[bool, bool]
) -> Image.Image:
    """A YCbCr (or RGB) image as YCbCr with its brightness (Y) resized to ``target`` and its
    two colour planes (Cb, Cr) to half of it, each colour sample then repeated over the 2x2
    pixels it stands for: what a 4:2:0 encoder averages back to exactly those samples. Half
    the resampling of three full planes; the colour planes are halved by a box filter first,
    as the encoder would have averaged them.

    The encoder's blocks start at the displayed picture's top-left corner, which
    ``far_edges`` says may be this (stored) frame's last column or row: along such an axis of
    odd length the blocks start one pixel before this frame's first, so the first sample
    stands for that pixel alone.
    """
    # The colour planes are shrunk by whole factors with a box filter first, as far as
    # `_resized` would go on with them: at least the 2 the encoder averages over.
    factor = 2 * max(1, int(_reduction(crop, target) / REDUCING_GAP))
    if image.mode == "YCbCr":
        luma, *chroma = image.split()
        shrunk = [plane.reduce(factor) for plane in chroma]
    else:  # RGB: the colour of each block from its mean (the conversion is linear)
        luma, shrunk = image.convert("L"), list(colour.chroma_of(image.reduce(factor)))
    before = tuple(int(far and side % 2) for far, side in zip(far_edges, target, strict=True))
    half = tuple((side + ahead + 1) // 2 for side, ahead in zip(target, before, strict=True))
    left, top, right, bottom = crop
    step = ((right - left) / target[0], (bottom - top) / target[1])  # source px an output px
    # What the half-size grid covers, in the shrunk planes' pixels.
    box = (
        (left - before[0] * step[0]) / factor,
        (top - before[1] * step[1]) / factor,
        (left + (2 * half[0] - before[0]) * step[0]) / factor,
        (top + (2 * half[1] - before[1]) * step[1]) / factor,
    )
    planes = []
    for plane in shrunk:
        grown, inside = _grown_to(plane, box)
        small = _resized(grown, (half[0], half[1]), inside)
        planes.append(_repeated(small, target, before))
    return Image.merge("YCbCr", (_resized(luma, target, crop), *planes))


def _repeated(samples: Image.Image, size: Size, before: tuple[int, ...] = (0, 0)) -> Image.Image:
    """A plane of ``size`` with each of ``samples`` over its 2x2 block: pixel x takes sample
    (x + before) // 2, ``before`` being how far the blocks start ahead of the first pixel."""
    width, height = size
    box = (before[0] / 2, before[1] / 2, (width + before[0]) / 2, (height + before[1]) / 2)
    return samples.resize(size, Image.Resampling.NEAREST, box=box)


def _grown_to(plane: Image.Image, box: Box) -> tuple[Image.Image, Box]:
    """``plane`` with its outer columns and rows repeated as far as ``box`` reaches past them
    (a sample at most), and ``box`` in the grown plane."""
    width, height = plane.size
    left, top = max(0, math.ceil(-box[0])), max(0, math.ceil(-box[1]))
    right, bottom = max(0, math.ceil(box[2]) - width), max(0, math.ceil(box[3]) - height)
    if not (left or top or right or bottom):
        return plane, box
    grown = Image.new(plane.mode, (left + width + right, top + height + bottom))
    grown.paste(plane, (left, top))
    for x in (*range(left), *range(left + width, left + width + right)):
        edge = 0 if x < left else width - 1
        grown.paste(plane.crop((edge, 0, edge + 1, height)), (x, top))
    for y in (*range(top), *range(top + height, top + height + bottom)):
        edge = top if y < top else top + height - 1
        grown.paste(grown.crop((0, edge, grown.width, edge + 1)), (0, y))
    return grown, (box[0] + left, box[1] + top, box[2] + left, box[3] + top)


def _premultiplied(colours: Image.Image, alpha: Image.Image) -> Image.Image:
    """Premultiplied colours (RGB) and their alpha band joined as one RGBa image."""
    return Image.merge("RGBa", (*colours.split(), alpha))


def _upright(work: _Work) -> None:
    work.image = orientation.upright(work.image, work.orientation)


def _colour(work: _Work) -> None:
    work.image, work.icc_profile = colour.for_output(work.image, work.icc_profile, work.output)


def _grayscale(work: _Work) -> None:
    if work.spec.grayscale and work.image.mode not in ("L", "LA"):
        work.image = work.image.convert("LA" if work.image.mode in colour.ALPHA_MODES else "L")


def _filter(work: _Work) -> None:
    """Blur, then sharpen, on the output's pixels: sigmas are in them."""
    blur, sharpen = work.spec.blur, work.spec.sharpen
    if blur is not None:
        work.image = _each_band(work.image, lambda scale: ImageFilter.GaussianBlur(blur * scale))
    if sharpen is not None:
        work.image = _each_band(
            work.image,
            lambda scale: ImageFilter.UnsharpMask(sharpen * scale, SHARPEN_PERCENT, threshold=0),
        )


def _each_band(image: Image.Image, kernel: Callable[[float], ImageFilter.Filter]) -> Image.Image:
    """The filter ``kernel`` makes for a scale of the output's pixels, over ``image``: an alpha
    image premultiplied first, so that the colour of transparent pixels does not bleed into
    their neighbours; a YCbCr one plane by plane, its colour planes at the half size they are
    kept at (each sample repeated over 2x2 pixels, which `reduce` gives back exactly)."""
    if image.mode == "YCbCr":
        luma, *chroma = image.split()
        planes = [_repeated(plane.reduce(2).filter(kernel(0.5)), image.size) for plane in chroma]
        return Image.merge("YCbCr", (luma.filter(kernel(1)), *planes))
    if image.mode not in colour.ALPHA_MODES:
        return image.filter(kernel(1))
    premultiplied = image.convert("RGBa" if image.mode == "RGBA" else "La")
    return premultiplied.filter(kernel(1)).convert(image.mode)


def _pad(work: _Work) -> None:
    geometry = work.geometry
    if geometry.canvas == geometry.size:
        return
    image = work.image
    if work.output.has_alpha and image.mode not in colour.ALPHA_MODES:
        image = image.convert("RGBA" if image.mode == "RGB" else "LA")
    background = _background(work.spec)
    padding = _PADDING[image.mode] if background is None else _in_mode(background, image.mode)
    canvas = Image.new(image.mode, geometry.canvas, padding)
    canvas.paste(image, geometry.offset)
    work.image = canvas


def _background(spec: TransformSpec) -> tuple[int, int, int, int] | None:
    """``bg`` as RGBA (opaque when it gives no alpha), or None for the default."""
    if spec.background is None:
        return None
    value = spec.background if len(spec.background) == 8 else f"{spec.background}ff"
    red, green, blue, alpha = bytes.fromhex(value)
    return red, green, blue, alpha


def _in_mode(rgba: tuple[int, int, int, int], mode: str) -> tuple[int, ...] | int:
    """A colour as a pixel of ``mode``: a format without alpha shows it opaque."""
    grey = colour.grey_of(rgba)
    return {"RGBA": rgba, "RGB": rgba[:3], "LA": (grey, rgba[3]), "L": grey}[mode]


def _overlay(work: _Work) -> None:
    """The watermarks, last of the edits, so that nothing blurs, greys or crops them."""
    if work.placed is None:  # every frame has the same canvas: scale the pictures once
        canvas = work.geometry.canvas
        work.placed = [p for o in work.overlays if (p := o.placed(canvas)) is not None]
    for placed in work.placed:
        work.image = composite(work.image, placed)


def _collect(work: _Work) -> None:
    """The frame is made: keep it, and how long it shows."""
    work.frames.append(work.image)
    work.durations.append(int(work.source.info.get("duration") or 0))


def _encode(work: _Work) -> None:
    if len(work.frames) > 1 and work.output is not GIF and not any(map(_transparent, work.frames)):
        # Animations are made in RGBA; an alpha channel no frame uses costs bytes for nothing.
        # Not in a GIF: Pillow quantises RGBA frames without dithering, RGB ones with it, and
        # dithered frames are three times the bytes (the corpus' earth: 795 KB against 250 KB).
        work.frames = [frame.convert("RGB") for frame in work.frames]
    first, *rest = work.frames
    for frame in work.frames:
        # Only the profile goes out: EXIF (with GPS), XMP, comments and text chunks stay behind.
        frame.info = {}
    options = work.output.save_options(work.spec.quality)
    if work.icc_profile:
        options["icc_profile"] = work.icc_profile
    if rest:
        options.update(save_all=True, append_images=rest, duration=work.durations)
        loop = _loop(work.source)
        if loop is not None:
            options["loop"] = loop
        elif work.output is not GIF:
            options["loop"] = 1  # a GIF with no loop block plays once; so does this
        if work.output is GIF:
            options["disposal"] = 2  # each frame is the whole canvas: clear it between frames
    buffer = _BoundedBuffer(work.max_bytes)
    first.save(buffer, work.output.pillow_format, **options)
    work.body = buffer.getvalue()


def _transparent(frame: Image.Image) -> bool:
    return frame.mode == "RGBA" and frame.getchannel("A").getextrema()[0] < 255


def _loop(source: Image.Image) -> int | None:
    """How often the source animation repeats, in Pillow's terms (0: for ever); None when it
    plays once (a GIF without a NETSCAPE loop block)."""
    loop = source.info.get("loop")
    if loop is None:
        return None if source.format == "GIF" else 0
    return int(loop)


class _BoundedBuffer(io.BytesIO):
    """Output that stops its encoder once it grows past ``limit``.

    PNG and GIF encoders write as they go, so a result too large to send is refused part way
    rather than once finished: a 24 MP photo as a full-size PNG in 2.6 s instead of 8.0 s.
    """

    def __init__(self, limit: float) -> None:
        super().__init__()
        self._limit = limit
        self._written = 0

    def write(self, data: Buffer) -> int:
        self._written += memoryview(data).nbytes
        if self._written > self._limit:
            raise OutputTooLarge.beyond(int(self._limit))
        return super().write(data)


def _reduction(crop: Box, target: Size) -> float:
    """How many times smaller the target is than the crop, on the less reduced axis."""
    return min((crop[2] - crop[0]) / target[0], (crop[3] - crop[1]) / target[1])


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


Steps = tuple[tuple[str, Callable[[_Work], None]], ...]
_DECODE_STEPS: Steps = (
    ("decode", _open),
    ("decode", _inspect),
    ("decode", _draft),
    ("decode", _load),
    ("resize", _aim),  # once: every frame of an animation is cropped alike
)
_FRAME_STEPS: Steps = (
    ("resize", _normalise_mode),
    ("colour", _flatten),
    ("resize", _resize),
    ("resize", _upright),
    ("colour", _colour),
    ("colour", _grayscale),
    ("filter", _filter),
    ("colour", _pad),
    ("overlay", _overlay),
    ("encode", _collect),
)
_ENCODE_STEPS: Steps = (("encode", _encode),)


def _always(_: _Work) -> bool:
    return True


# Steps that only some requests need: the others leave them (and their stage) out of the run,
# so that Server-Timing lists only the work done.
_ONLY_WHEN: dict[Callable[[_Work], None], Callable[[_Work], bool]] = {
    _filter: lambda work: work.spec.blur is not None or work.spec.sharpen is not None,
    _overlay: lambda work: bool(work.overlays),
}


def render(
    data: bytes,
    spec: TransformSpec,
    *,
    max_pixels: int,
    deadline: float = math.inf,
    max_bytes: float = math.inf,
    max_frames: int = DEFAULT_MAX_ANIMATION_FRAMES,
    overlays: Sequence[Overlay] = (),
) -> Rendition:
    """Transform one source image; raises `OptimizerError`s that name what was wrong with it.

    Between steps, and between frames, it gives up with `TimeBudgetExceeded` once
    `time.monotonic()` passes ``deadline``: a step already started runs to its end, so the
    caller keeps a margin. An encoder that writes more than ``max_bytes`` is stopped there with
    `OutputTooLarge`. An animation keeps its frames (at most ``max_frames``; all of them
    together at most ``max_pixels``) when the output format can carry them. ``overlays`` are
    drawn over it, in order, after every other edit.
    """
    work = _Work(data, spec, max_pixels, max_bytes, max_frames, overlays)
    timings: dict[str, float] = {}

    def run(steps: Steps) -> None:
        for stage, step in steps:
            if time.monotonic() > deadline:
                raise TimeBudgetExceeded(_OUT_OF_TIME)
            started = time.perf_counter()
            step(work)
            timings[stage] = timings.get(stage, 0.0) + (time.perf_counter() - started) * 1000

    run(_DECODE_STEPS)
    frame_steps = tuple(
        (stage, step) for stage, step in _FRAME_STEPS if _ONLY_WHEN.get(step, _always)(work)
    )
    for index in range(work.frame_count):
        if index:
            run((("decode", partial(_next_frame, index=index)),))
        run(frame_steps)
    run(_ENCODE_STEPS)
    width, height = work.geometry.canvas
    return Rendition(
        work.body,
        work.output,
        width,
        height,
        work.source_format,
        *work.source_size,
        timings,
        work.frame_count,
    )
