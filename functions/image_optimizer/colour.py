"""Colour for the output: alpha flattened where the format has none, CMYK and grey to sRGB, ICC;
and RGB <-> YCbCr as JPEG defines it, for the pipeline's JPEG outputs.

The flatten runs before the resize, where it is cheaper; the rest on the small, resized image.
The profile policy keeps colours right at the smallest cost:
an sRGB profile is dropped (untagged means sRGB on the web); a small non-sRGB profile (Display P3,
Adobe RGB: a few hundred bytes) is carried so wide-gamut photos stay wide; a large one is not
worth its bytes in a thumbnail, so the pixels are converted to sRGB instead.
"""

from __future__ import annotations

import io
from functools import cache, lru_cache

from PIL import Image, ImageCms

from image_optimizer.formats import OutputFormat

MAX_CARRIED_PROFILE_BYTES = 8 * 1024
_WHITE = "white"
# The colour space a profile must describe to apply to an image of each mode (a YCbCr image's
# profile describes the RGB it encodes).
_CHANNEL_SPACE = {
    "RGB": "RGB ",
    "RGBA": "RGB ",
    "YCbCr": "RGB ",
    "L": "GRAY",
    "LA": "GRAY",
    "CMYK": "CMYK",
}
ALPHA_MODES = ("RGBA", "LA")  # the alpha modes the pipeline works in
# JFIF's YCbCr (what a JPEG stores) as conversion matrices, which Pillow applies with rounding:
# its own YCbCr conversions truncate, half a level off (darker and greener) each way, which
# cost SSIMULACRA2 up to two points.
_CB_CR = (-0.168736, -0.331264, 0.5, 128.0, 0.5, -0.418688, -0.081312, 128.0, 0, 0, 0, 0)
_FROM_YCBCR = (1, 0, 1.402, -179.456, 1, -0.344136, -0.714136, 135.458816, 1, 1.772, 0, -226.816)


def for_output(
    image: Image.Image, icc_profile: bytes | None, output: OutputFormat
) -> tuple[Image.Image, bytes | None]:
    """The image in a mode ``output`` encodes, and the ICC profile to embed (None: sRGB).

    Alpha is expected gone already where ``output`` has none (`without_alpha_for`)."""
    profile = _read_profile(icc_profile)
    if profile is not None and profile.profile.xcolor_space != _CHANNEL_SPACE.get(image.mode):
        profile = None  # a profile that does not describe these pixels is worse than none
    if image.mode == "CMYK":
        image = _to_srgb(image, icc_profile, "RGB") if profile else image.convert("RGB")
        profile = None
    if image.mode not in output.modes:  # grey (L, LA) for a format that takes colour only
        image = _grey_to_srgb(image, icc_profile if profile else None)
        profile = None  # a grey profile cannot describe colour pixels: it is applied instead
    if profile is None or _is_srgb(profile):
        return image, None
    assert icc_profile is not None
    if len(icc_profile) <= MAX_CARRIED_PROFILE_BYTES:
        return image, icc_profile
    if image.mode == "YCbCr":
        image = rgb_of(image)  # what a colour transform takes
    if image.mode in ("RGB", "RGBA"):
        return _to_srgb(image, icc_profile, image.mode), None
    return image, None


def chroma_of(rgb: Image.Image) -> tuple[Image.Image, Image.Image]:
    """The Cb and Cr planes of an RGB image."""
    blue, red, _ = rgb.convert("RGB", _CB_CR).split()
    return blue, red


def ycbcr_of(rgb: Image.Image) -> Image.Image:
    """An RGB image as YCbCr (Pillow's grey conversion is JFIF's Y, rounded)."""
    return Image.merge("YCbCr", (rgb.convert("L"), *chroma_of(rgb)))


def rgb_of(ycbcr: Image.Image) -> Image.Image:
    """A YCbCr image as RGB."""
    return Image.merge("RGB", ycbcr.split()).convert("RGB", _FROM_YCBCR)


def without_alpha_for(
    image: Image.Image,
    output: OutputFormat,
    background: tuple[int, int, int, int] | None = None,
) -> Image.Image:
    """RGBA/LA flattened onto white (or ``background``, taken opaque), as RGB/L, when
    ``output`` has no alpha; else ``image``.

    Compositing is linear, so flattening before a resize gives the pixels a premultiplied resize
    and a later flatten would, while resizing three channels and premultiplying none.
    """
    if image.mode not in ALPHA_MODES or output.has_alpha:
        return image
    if background is None:
        return composited_on(image, _WHITE)
    opaque = background[:3] if image.mode == "RGBA" else grey_of(background)
    return composited_on(image, opaque)


def grey_of(rgba: tuple[int, int, int, int]) -> int:
    """A colour's grey, as Pillow's convert('L') weighs it."""
    return round(0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2])  # ITU-R 601


def composited_on(image: Image.Image, background: str | tuple[int, ...] | int) -> Image.Image:
    """RGBA/LA composited onto a plain ``background``, as RGB/L (onto black: premultiplied)."""
    composite = Image.new(image.mode[:-1], image.size, background)
    # The image is its own mask (its alpha band): no copy of the colours or of the alpha
    # first, which took a 3 MP RGBA flatten from 23 to 15 ms, to the same bytes.
    composite.paste(image, mask=image)
    return composite


def _grey_to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    grey, alpha = (
        (image.getchannel("L"), image.getchannel("A")) if image.mode == "LA" else (image, None)
    )
    colour = _to_srgb(grey, icc_profile, "RGB") if icc_profile else grey.convert("RGB")
    if alpha is not None:
        colour.putalpha(alpha)
    return colour


def _read_profile(icc_profile: bytes | None) -> ImageCms.ImageCmsProfile | None:
    if not icc_profile:
        return None
    try:
        return _parsed_profile(icc_profile)
    except (OSError, ImageCms.PyCMSError, ValueError):
        return None  # an unreadable profile is ignored: the pixels are then taken as sRGB


@lru_cache(maxsize=16)
def _parsed_profile(icc_profile: bytes) -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    return "srgb" in (profile.profile.profile_description or "").lower()


def _to_srgb(image: Image.Image, icc_profile: bytes, output_mode: str) -> Image.Image:
    return _transform(icc_profile, image.mode, output_mode).apply(image)


@lru_cache(maxsize=16)
def _transform(icc_profile: bytes, input_mode: str, output_mode: str) -> ImageCms.ImageCmsTransform:
    # Building a transform costs milliseconds (more for big CMYK profiles); photos from one
    # camera or one print workflow share a profile, so the transforms are kept.
    return ImageCms.buildTransform(
        _parsed_profile(icc_profile),
        _srgb(),
        input_mode,
        output_mode,
        renderingIntent=ImageCms.Intent.PERCEPTUAL,
    )


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
