"""EXIF orientation: read from the metadata alone, and applied late, on the small image.

The geometry is planned in the displayed frame; these functions carry a crop box and a size back
to the stored frame, resize there, and turn the small result upright with one transpose.
"""

from __future__ import annotations

import struct

from PIL import ExifTags, Image

from image_optimizer.geometry import Box, Size

_PNG_SIGNATURE_BYTES = 8
_PNG_CHUNK_HEADER = struct.Struct(">I4s")  # length, type; then the data and a 4-byte CRC

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def read(image: Image.Image, data: bytes) -> int:
    """The orientation (1 to 8) that ``image``'s metadata gives, 1 when it gives none or garbage.

    No pixel is decoded. That matters: Pillow's PNG ``getexif()`` decodes the whole image to look
    for an eXIf chunk after the pixels, and a decoding error there would be lost, leaving a
    half-decoded picture that a later ``load()`` does not decode again. Here a PNG's chunk
    headers are walked instead, which finds eXIf wherever it is.
    """
    if image.format == "PNG" and "exif" not in image.info:
        exif = _png_chunk(data, b"eXIf")
        if exif is not None:
            image.info["exif"] = exif
    try:
        # Image.getexif (the base class's) reads what the header gave: EXIF, then XMP.
        value = Image.Image.getexif(image).get(ExifTags.Base.Orientation, 1)
    except Exception:
        return 1  # metadata that does not parse is ignored, as browsers ignore it
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _png_chunk(data: bytes, kind: bytes) -> bytes | None:
    """The data of the first ``kind`` chunk of a PNG, found by walking the chunks' headers."""
    position = _PNG_SIGNATURE_BYTES
    while position + _PNG_CHUNK_HEADER.size <= len(data):
        length, found = _PNG_CHUNK_HEADER.unpack_from(data, position)
        start = position + _PNG_CHUNK_HEADER.size
        if found == kind:
            return data[start : start + length]
        if found == b"IEND":
            return None
        position = start + length + 4
    return None


def turned(orientation: int, rotate: int, flip: str) -> int:
    """The orientation of a picture stored as ``orientation`` says, then turned ``rotate``
    degrees clockwise and mirrored (``flip``: ``h`` left-right): still one of the eight, so the
    rest of the pipeline needs to know no more than it."""
    if not rotate and not flip:
        return orientation
    return _TURNED[(orientation, rotate, flip)]


def _turned_table() -> dict[tuple[int, int, str], int]:
    """Every combination, found by turning a small picture whose pixels all differ and seeing
    which orientation gives the same picture from the stored one."""
    stored = Image.new("L", (3, 2))
    stored.putdata(range(6))
    lying = {
        code: upright(stored, code).tobytes() + bytes(upright(stored, code).size)
        for code in range(1, 9)
    }
    table = {}
    for code in range(1, 9):
        for rotate, turn in _CLOCKWISE.items():
            for flip in ("", "h"):
                image = upright(stored, code)
                if turn is not None:
                    image = image.transpose(turn)
                if flip:
                    image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                seen = image.tobytes() + bytes(image.size)
                table[(code, rotate, flip)] = next(c for c, look in lying.items() if look == seen)
    return table


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


def starts_at_far_edges(orientation: int) -> tuple[bool, bool]:
    """Whether the displayed picture's top-left pixel is stored in the last column, and whether
    in the last row: where, in the stored frame, the displayed rows and columns start."""
    left, top, _, _ = stored_box((0, 0, 1, 1), (2, 2), orientation)
    return left == 1, top == 1


def upright(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


# Pillow's ROTATE_n turns counter-clockwise.
_CLOCKWISE = {
    0: None,
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}
_TURNED = _turned_table()
