"""EXIF orientation, applied late: after the resize, on the small image.

The geometry is planned in the displayed frame; these functions carry a crop box and a size back
to the stored frame, resize there, and turn the small result upright with one transpose.
"""

from __future__ import annotations

from PIL import Image

from image_optimizer.geometry import Box, Size

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def swaps_axes(orientation: int) -> bool:
    return orientation >= 5


def displayed_size(stored: Size, orientation: int) -> Size:
    return (stored[1], stored[0]) if swaps_axes(orientation) else stored


def stored_size(displayed: Size, orientation: int) -> Size:
    return (displayed[1], displayed[0]) if swaps_axes(orientation) else displayed


def stored_box(box: Box, stored: Size, orientation: int) -> Box:
    """The stored-frame region that shows as ``box`` once the orientation is applied."""
    left, top, right, bottom = box
    width, height = stored
    match orientation:
        case 2:
            return width - right, top, width - left, bottom
        case 3:
            return width - right, height - bottom, width - left, height - top
        case 4:
            return left, height - bottom, right, height - top
        case 5:
            return top, left, bottom, right
        case 6:
            return top, height - right, bottom, height - left
        case 7:
            return width - bottom, height - right, width - top, height - left
        case 8:
            return width - bottom, left, width - top, right
        case _:
            return box


def upright(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)
