"""Sample images for `image-optimizer serve` with no --source: drawn here, so nothing is downloaded.

They exercise what matters: a large photo-like JPEG, a phone-style JPEG whose EXIF orientation
must be applied, a PNG with transparency and an animated GIF.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

# The samples' badge as a watermark (?watermark=badge), so that the playground can show one.
SAMPLE_WATERMARKS = '{"badge": {"key": "logos/badge.png", "width": 0.2, "opacity": 0.7}}'
SAMPLES = ("landscapes/main.jpg", "photos/portrait.jpg", "logos/badge.png", "stickers/orbit.gif")
ORBIT_FRAMES = 24
_ORIENTATION_TAG = 0x0112


def ensure_samples(folder: Path) -> Path:
    """Draw the sample images into ``folder`` unless they are already there."""
    painters = {
        "landscapes/main.jpg": _landscape,
        "photos/portrait.jpg": _rotated_portrait,
        "logos/badge.png": _badge,
        "stickers/orbit.gif": _orbit,
    }
    for key in SAMPLES:
        path = folder / key
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            painters[key](path)
    return folder


def _landscape(path: Path) -> None:
    width, height = 2400, 1600
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    sky = Image.new("RGB", (width, height), (70, 130, 200))
    dusk = Image.new("RGB", (width, height), (250, 190, 140))
    image = Image.composite(dusk, sky, image.convert("L"))
    draw = ImageDraw.Draw(image)
    draw.ellipse((1650, 350, 1900, 600), fill=(255, 230, 160))
    rng = random.Random(7)
    for layer, colour in enumerate(((90, 100, 130), (60, 80, 90), (40, 70, 50))):
        base = 900 + layer * 180
        points = [(0, height)]
        for x in range(0, width + 100, 100):
            points.append((x, base - rng.randint(0, 350 - layer * 80)))
        points.append((width, height))
        draw.polygon(points, fill=colour)
    texture = Image.effect_noise((width, height), 24).convert("RGB")
    image = Image.blend(image, texture, 0.08).filter(ImageFilter.SMOOTH)
    image.save(path, "JPEG", quality=90)


def _rotated_portrait(path: Path) -> None:
    # Drawn upright as 1200x1600, stored turned on its side as cameras do, tagged orientation 6.
    upright = Image.new("RGB", (1200, 1600), (235, 225, 210))
    draw = ImageDraw.Draw(upright)
    draw.rectangle((100, 100, 1100, 1500), outline=(40, 40, 40), width=12)
    draw.polygon([(600, 200), (900, 700), (300, 700)], fill=(200, 60, 50))  # points up
    draw.rectangle((500, 700, 700, 1300), fill=(200, 60, 50))
    draw.ellipse((450, 1300, 750, 1480), fill=(50, 90, 160))
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[_ORIENTATION_TAG] = 6
    stored.save(path, "JPEG", quality=90, exif=exif.tobytes())


def _badge(path: Path) -> None:
    image = Image.new("RGBA", (800, 800), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 40, 760, 760), fill=(30, 120, 90, 255))
    draw.ellipse((160, 160, 640, 640), fill=(250, 250, 240, 200))
    draw.rectangle((340, 220, 460, 580), fill=(30, 120, 90, 255))
    image.save(path, "PNG")


def _orbit(path: Path) -> None:
    """A moon going round a planet on a transparent background, once every 24 frames, forever."""
    frames = []
    for index in range(ORBIT_FRAMES):
        frame = Image.new("RGBA", (320, 320), (0, 0, 0, 0))
        draw = ImageDraw.Draw(frame)
        draw.ellipse((110, 110, 210, 210), fill=(40, 110, 200, 255))
        angle = 2 * math.pi * index / ORBIT_FRAMES
        x, y = 160 + 120 * math.cos(angle), 160 + 120 * math.sin(angle)
        draw.ellipse((x - 18, y - 18, x + 18, y + 18), fill=(230, 200, 120, 255))
        frames.append(frame)
    frames[0].save(
        path, "GIF", save_all=True, append_images=frames[1:], duration=60, loop=0, disposal=2
    )
