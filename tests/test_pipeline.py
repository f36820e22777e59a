"""The pipeline: geometry, orientation, modes, alpha, colour, metadata, formats, refusals."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from conftest import CORPUS
from image_optimizer import colour, pipeline
from image_optimizer.errors import CorruptImage, ImageTooLarge, OutputTooLarge, UnsupportedImage
from image_optimizer.formats import AVIF, GIF, JPEG, OUTPUT_FORMATS, PNG, WEBP, OutputFormat
from image_optimizer.geometry import plan
from image_optimizer.overlay import decoded as overlay_decoded
from image_optimizer.parameters import Fit
from image_optimizer.pipeline import Rendition, render
from image_optimizer.request import parse_query
from image_optimizer.spec import TransformSpec
from image_optimizer.watermarks import Watermark
from images import (
    decode,
    encode,
    gradient,
    grey_icc_profile,
    png_claiming_size,
    psnr,
    with_orientation,
)

LIMIT = 100_000_000
FORMATS = (JPEG, PNG, WEBP, AVIF, GIF)


def run(data: bytes, **spec: object) -> tuple[Rendition, Image.Image]:
    rendition = render(data, TransformSpec(**spec), max_pixels=LIMIT)  # type: ignore[arg-type]
    return rendition, decode(rendition.body)


def reference(upright: Image.Image, spec: TransformSpec) -> Image.Image:
    """What a careful, slow pipeline makes: orient first, then one LANCZOS resize of the crop."""
    geometry = plan(upright.size, spec)
    return upright.resize(geometry.size, Image.Resampling.LANCZOS, box=geometry.crop)


SPECS = [
    TransformSpec(width=120),
    TransformSpec(height=50),
    TransformSpec(width=90, height=90, fit=Fit.COVER),
    TransformSpec(width=150, height=40, fit=Fit.COVER),
    TransformSpec(width=100, height=100, fit=Fit.FILL),
    TransformSpec(width=100, height=100, fit=Fit.INSIDE),
    TransformSpec(width=100, height=100, fit=Fit.OUTSIDE),
]


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.canonical())
def test_every_orientation_matches_orienting_first(orientation: int, spec: TransformSpec) -> None:
    data = with_orientation(gradient(), orientation, "PNG")
    upright = ImageOps.exif_transpose(decode(data))
    assert upright is not None
    lossless = TransformSpec(width=spec.width, height=spec.height, fit=spec.fit, output_format=PNG)
    _, output = run(data, **_fields(lossless))
    expected = reference(upright, spec)
    assert output.size == expected.size
    assert psnr(output, expected) > 45


def test_a_phone_photo_w400_is_400_wide_and_portrait() -> None:
    rendition, output = run((CORPUS / "phone-12mp-orient6-icc.jpg").read_bytes(), width=400)
    assert output.size == (400, 533)
    assert (rendition.source_width, rendition.source_height) == (3024, 4032)


@pytest.mark.parametrize("width", [400, 1200])
def test_drafted_jpeg_keeps_the_quality_of_a_full_decode(width: int) -> None:
    data = (CORPUS / "flickr-6mp.jpg").read_bytes()
    _, output = run(data, width=width, output_format=PNG)
    full = decode(data)
    expected = reference(full, TransformSpec(width=width))
    # draft()'s box keeps the output aligned; without it the result shifts and drops ~3 dB.
    assert psnr(output, expected) > 42


def test_the_drafted_box_is_carried_into_the_crop() -> None:
    # A cover crop of a JPEG big enough to draft: it must land where a full decode's crop would.
    data = encode(gradient((2400, 1600)), "JPEG", quality=95)
    spec = TransformSpec(width=200, height=300, fit=Fit.COVER)
    _, output = run(
        data, **_fields(TransformSpec(width=200, height=300, fit=Fit.COVER, output_format=PNG))
    )
    assert psnr(output, reference(decode(data), spec)) > 38


MODES = ["1", "L", "LA", "P", "PA-trns", "RGB", "RGBA", "CMYK", "I;16"]


def source_in_mode(mode: str) -> bytes:
    picture = gradient((240, 160))
    match mode:
        case "CMYK":
            return encode(picture.convert("CMYK"), "JPEG", quality=95)
        case "PA-trns":
            palette = picture.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
            return encode(palette, "PNG", transparency=0)
        case "LA" | "RGBA":
            image = picture.convert(mode)
            image.putalpha(Image.linear_gradient("L").resize(image.size))
            return encode(image, "PNG")
        case "I;16":  # what Pillow decodes a 16-bit grey PNG to
            wide = Image.linear_gradient("L").resize((240, 160)).convert("I")
            return encode(wide.point(lambda value: value * 257).convert("I;16"), "PNG")
        case _:
            return encode(picture.convert(mode), "PNG")


@pytest.mark.parametrize("output", FORMATS, ids=lambda fmt: fmt.name)
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_converts_to_every_format(mode: str, output: OutputFormat) -> None:
    rendition, image = run(source_in_mode(mode), width=120, output_format=output)
    assert image.format == output.pillow_format
    assert image.size == (120, 80)
    assert rendition.output_format is output
    has_alpha = mode in ("LA", "RGBA", "PA-trns")
    if output in (PNG, WEBP, AVIF):
        assert (image.mode in ("RGBA", "LA")) == has_alpha
    if output is JPEG:
        assert image.mode in ("RGB", "L")


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    _, image = run(source_in_mode("I;16"), output_format=PNG)
    low, high = image.convert("L").getextrema()
    assert low < 10
    assert high > 245


def test_alpha_is_flattened_onto_white_for_jpeg() -> None:
    transparent = Image.new("RGBA", (50, 50), (255, 0, 0, 0))
    transparent.paste((0, 0, 255, 255), (0, 0, 25, 50))
    _, image = run(encode(transparent, "PNG"), output_format=JPEG)
    red, green, blue = image.getpixel((40, 25))  # type: ignore[misc]
    assert min(red, green, blue) > 240  # white, not black or red
    assert image.getpixel((10, 25))[2] > 200  # type: ignore[index]


def noisy_rgba(size: tuple[int, int]) -> Image.Image:
    """Random colours under random alpha, with whole regions fully clear and fully opaque."""
    colours = Image.merge("RGB", [Image.effect_noise(size, 90) for _ in range(3)])
    alpha = Image.effect_noise(size, 120)
    alpha.paste(0, (0, 0, size[0] // 3, size[1]))
    alpha.paste(255, (2 * size[0] // 3, 0, *size))
    colours.putalpha(alpha)
    return colours


@pytest.mark.parametrize("width", [130, 90], ids=["moderate", "reduced first"])
def test_an_rgba_resize_gives_exactly_pillows_premultiplied_resize(width: int) -> None:
    source = noisy_rgba((400, 300))
    _, image = run(encode(source, "PNG"), width=width, output_format=PNG)
    expected = source.resize(image.size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    assert image.tobytes() == expected.tobytes()


def test_flattening_before_the_resize_matches_flattening_after() -> None:
    # Equal but for where LANCZOS' overshoot is clipped (48 dB on noise); smooth here, so
    # that JPEG's chroma subsampling does not hide a difference.
    source = gradient((400, 300))
    alpha = Image.linear_gradient("L").resize(source.size)
    alpha.paste(0, (0, 0, 100, 300))
    source.putalpha(alpha)
    _, image = run(encode(source, "PNG"), width=130, output_format=JPEG, quality=100)
    resized = source.resize(image.size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    flattened_after = Image.new("RGB", resized.size, "white")
    flattened_after.paste(resized, mask=resized.getchannel("A"))
    assert psnr(image, flattened_after) > 40


@pytest.mark.parametrize("output", [PNG, WEBP, AVIF], ids=lambda fmt: fmt.name)
def test_alpha_is_kept_where_the_format_has_it(output: OutputFormat) -> None:
    data = (CORPUS / "palette-trns.png").read_bytes()
    _, image = run(data, width=200, output_format=output)
    assert image.mode == "RGBA"
    assert image.getextrema()[3][0] < 10  # still transparent somewhere


def test_gif_output_keeps_transparency() -> None:
    _, image = run((CORPUS / "palette-trns.png").read_bytes(), width=200, output_format=GIF)
    assert "transparency" in image.info


def test_contain_pads_with_white_or_transparency() -> None:
    data = encode(gradient((300, 100)), "JPEG", quality=95)
    _, jpeg = run(data, width=100, height=100, fit=Fit.CONTAIN)
    assert jpeg.size == (100, 100)
    assert min(jpeg.getpixel((50, 2))) > 240  # type: ignore[arg-type]
    _, png = run(data, width=100, height=100, fit=Fit.CONTAIN, output_format=PNG)
    assert png.mode == "RGBA"
    assert png.getpixel((50, 2))[3] == 0  # type: ignore[index]
    assert png.getpixel((50, 50))[3] == 255  # type: ignore[index]


def test_metadata_is_stripped_but_the_profile_is_kept() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.0)}  # GPS
    p3 = CORPUS / "phone-12mp-orient6-icc.jpg"
    icc = Image.open(p3).info["icc_profile"]
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    source = encode(gradient(), "JPEG", exif=exif.tobytes(), icc_profile=icc, xmp=xmp)
    assert decode(source).getexif()
    for output in (JPEG, PNG, WEBP, AVIF):
        _, image = run(source, width=100, output_format=output)
        assert not image.getexif(), output.name
        assert "xmp" not in image.info, output.name
        assert "XML:com.adobe.xmp" not in image.info, output.name
        assert image.info.get("icc_profile") == icc, output.name  # Display P3: carried


def test_an_srgb_profile_is_dropped() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    _, image = run(encode(gradient(), "PNG", icc_profile=srgb), output_format=PNG)
    assert "icc_profile" not in image.info


def test_a_large_profile_is_converted_to_srgb_not_carried() -> None:
    large = Image.open(CORPUS / "exif-orient6.jpg").info["icc_profile"]  # "Generic RGB", 1960 B
    padded = _with_description_padding(large)
    _, image = run(encode(gradient(), "PNG", icc_profile=padded), output_format=WEBP)
    assert "icc_profile" not in image.info


@pytest.mark.parametrize("mode", ["L", "LA"])
def test_a_grey_profile_is_applied_when_grey_becomes_colour(mode: str) -> None:
    # Linear grey 128 shows as sRGB 188. Carried along, the grey profile could not describe
    # the RGB pixels a WebP holds, and the grey would show as 128.
    source = Image.new(mode, (64, 48), 128 if mode == "L" else (128, 255))
    data = encode(source, "PNG", icc_profile=grey_icc_profile(gamma=1.0))
    _, image = run(data, width=32, output_format=WEBP)
    assert "icc_profile" not in image.info
    assert all(185 <= value <= 192 for value in image.convert("RGB").getpixel((5, 5)))  # type: ignore[union-attr]


def test_a_grey_profile_stays_with_grey_jpeg_output() -> None:
    profile = grey_icc_profile(gamma=1.0)
    data = encode(Image.new("L", (64, 48), 128), "JPEG", quality=95, icc_profile=profile)
    _, image = run(data, width=32, output_format=JPEG)
    assert (image.mode, image.info.get("icc_profile")) == ("L", profile)


def test_cmyk_with_its_profile_becomes_srgb() -> None:
    data = (CORPUS / "cmyk-icc.jpg").read_bytes()
    _, image = run(data, width=200, output_format=JPEG)
    assert image.mode == "RGB"
    assert "icc_profile" not in image.info  # 557 KB of SWOP profile does not ride along
    naive = decode(data).convert("RGB").resize(image.size)
    assert psnr(image, naive) < 40  # the profile changed the colours, as it should


@pytest.mark.parametrize(
    ("name", "expected"),
    [("flickr-6mp.jpg", JPEG), ("alpha-3mp.png", PNG), ("tree.webp", WEBP)],
)
def test_without_format_a_web_source_keeps_its_format(name: str, expected: OutputFormat) -> None:
    rendition, _ = run((CORPUS / name).read_bytes(), width=100)
    assert rendition.output_format is expected


def test_an_mpo_source_becomes_jpeg() -> None:
    frames = [gradient(), gradient().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "MPO", save_all=True, append_images=frames[1:])
    rendition, image = run(buffer.getvalue(), width=100)
    assert rendition.source_format == "MPO"
    assert rendition.output_format is JPEG
    assert image.format == "JPEG"


@pytest.mark.parametrize("name", sorted(OUTPUT_FORMATS))
def test_quality_changes_lossy_outputs_only(name: str) -> None:
    output = OUTPUT_FORMATS[name]
    data = encode(gradient(), "PNG")
    low, _ = run(data, output_format=output, quality=5)
    high, _ = run(data, output_format=output, quality=95)
    if output.lossy:
        assert len(low.body) < len(high.body)
    else:
        assert low.body == high.body


def test_every_stage_is_timed_and_only_the_work_asked_for() -> None:
    rendition, _ = run(encode(gradient(), "PNG"), width=50)
    assert set(rendition.timings) == {"decode", "resize", "colour", "encode"}
    assert all(milliseconds >= 0 for milliseconds in rendition.timings.values())
    rendition, _ = run(encode(gradient(), "PNG"), width=50, blur=1.0)
    assert set(rendition.timings) == {"decode", "resize", "colour", "filter", "encode"}


class TestRefusals:
    def test_not_an_image(self) -> None:
        with pytest.raises(UnsupportedImage, match="not an image in a supported format"):
            render(b"<html>hello</html>", TransformSpec(), max_pixels=LIMIT)

    def test_a_format_that_is_not_enabled(self) -> None:
        with pytest.raises(UnsupportedImage):
            render(encode(gradient(), "TIFF"), TransformSpec(), max_pixels=LIMIT)
        with pytest.raises(UnsupportedImage):
            render(encode(gradient(), "BMP"), TransformSpec(), max_pixels=LIMIT)

    @pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
    def test_a_truncated_jpeg(self, fraction: float) -> None:
        data = (CORPUS / "flickr-6mp.jpg").read_bytes()
        with pytest.raises(CorruptImage):
            render(data[: int(len(data) * fraction)], TransformSpec(width=100), max_pixels=LIMIT)

    def test_a_truncated_png(self) -> None:
        data = (CORPUS / "alpha-3mp.png").read_bytes()
        with pytest.raises(CorruptImage):
            render(data[: len(data) // 2], TransformSpec(width=100), max_pixels=LIMIT)

    def test_a_header_only_is_corrupt_not_unsupported(self) -> None:
        with pytest.raises(CorruptImage):
            render(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, TransformSpec(), max_pixels=LIMIT)

    def test_pixels_are_counted_before_decoding(self) -> None:
        bomb = png_claiming_size(100_000, 100_000)
        assert len(bomb) < 200
        with pytest.raises(ImageTooLarge, match="more than 1000000 pixels"):
            render(bomb, TransformSpec(width=10), max_pixels=1_000_000)

    def test_the_pixel_limit_is_inclusive(self) -> None:
        data = encode(gradient((100, 100)), "PNG")
        render(data, TransformSpec(), max_pixels=10_000)
        with pytest.raises(ImageTooLarge):
            render(data, TransformSpec(), max_pixels=9_999)

    @pytest.mark.parametrize("output", FORMATS, ids=lambda output: output.name)
    def test_the_output_limit_is_inclusive(self, output: OutputFormat) -> None:
        data = encode(Image.effect_noise((200, 150), 64).convert("RGB"), "PNG")
        spec = TransformSpec(output_format=output)
        body = render(data, spec, max_pixels=LIMIT).body
        assert render(data, spec, max_pixels=LIMIT, max_bytes=len(body)).body == body
        with pytest.raises(OutputTooLarge, match=f"more than the {len(body) - 1} bytes"):
            render(data, spec, max_pixels=LIMIT, max_bytes=len(body) - 1)

    def test_a_png_too_large_is_refused_part_way_through_encoding(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        data = encode(Image.effect_noise((1500, 1500), 64).convert("RGB"), "PNG")
        whole = len(render(data, TransformSpec(), max_pixels=LIMIT).body)  # noise hardly compresses
        offered: list[int] = []
        write = pipeline._BoundedBuffer.write

        def counted(buffer: pipeline._BoundedBuffer, chunk: bytes) -> int:
            offered.append(len(chunk))
            return write(buffer, chunk)

        monkeypatch.setattr(pipeline._BoundedBuffer, "write", counted)
        with pytest.raises(OutputTooLarge):
            render(data, TransformSpec(), max_pixels=LIMIT, max_bytes=100_000)
        assert sum(offered) < whole / 10  # the encoder stopped, it did not finish and then fail


def _fields(spec: TransformSpec) -> dict[str, object]:
    return {
        "width": spec.width,
        "height": spec.height,
        "fit": spec.fit,
        "output_format": spec.output_format,
        "quality": spec.quality,
    }


def _with_description_padding(profile: bytes) -> bytes:
    """The same profile with 16 KB of private tag data, so that it is too large to carry."""
    parsed = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    data = bytearray(parsed.tobytes())
    padding = b"\x00" * 16384
    data[0:4] = (len(data) + len(padding)).to_bytes(4, "big")
    return bytes(data) + padding


@pytest.mark.fresh_interpreter
def test_only_the_web_plugins_are_ever_loaded() -> None:
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from image_optimizer.pipeline import render\n"
        "from image_optimizer.spec import TransformSpec\n"
        "from image_optimizer.formats import OUTPUT_FORMATS\n"
        f"data = open({str(CORPUS / 'tree.webp')!r}, 'rb').read()\n"
        "for name in ('avif', 'webp', 'png', 'gif', 'jpeg'):\n"
        "    spec = TransformSpec(width=32, output_format=OUTPUT_FORMATS[name])\n"
        "    render(data, spec, max_pixels=10**8)\n"
        "print(json.dumps([m for m in sys.modules if m.endswith('ImagePlugin')]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = {name.removeprefix("PIL.") for name in json.loads(result.stdout)}
    web = {
        "AvifImagePlugin",
        "GifImagePlugin",
        "JpegImagePlugin",
        "PngImagePlugin",
        "WebPImagePlugin",
    }
    assert loaded <= web | {"BmpImagePlugin", "PpmImagePlugin"}  # Pillow's own preinit pair


def test_a_costly_avif_is_refused_from_the_header_before_any_pixel_is_decoded() -> None:
    """The photo's pixels are cut off after its header: were they decoded first, the answer
    would be a 422; it is the 413 the header alone decides."""
    data = (CORPUS / "phone-12mp-orient6-icc.jpg").read_bytes()
    cut = data[: len(data) // 10]
    with pytest.raises(OutputTooLarge, match=r"12\.2 MP of AVIF is more than the 8\.0 MP"):
        render(cut, TransformSpec(output_format=AVIF), max_pixels=LIMIT)
    with pytest.raises(CorruptImage):
        render(cut, TransformSpec(width=2000, output_format=AVIF), max_pixels=LIMIT)


class TestColourPlanesAtHalfSize:
    """A JPEG made from a JPEG has its two colour planes resized to half the output's size, as
    the encoder (4:2:0) keeps them, and only its brightness to the full size. What it makes
    must be what a full RGB resize encoded alike makes: differences of rounding and filter
    order (~0.4 of a level) pass; colour off by half a sample (~1.2) does not."""

    @staticmethod
    def photo() -> bytes:
        # Small enough that the decoder does not scale it: every output below is under 2x
        # smaller, so the resampler does all the work.
        photo = decode((CORPUS / "flickr-6mp.jpg").read_bytes()).resize((1001, 817))
        return encode(photo, "JPEG", quality=95)

    @staticmethod
    def colour_waves() -> bytes:
        """Colour that changes fast and brightness that does not: Cb in waves across (periods
        of 14 to 24 px), Cr in waves down, so colour half a sample out of place shows; each
        rising from one side to the other, so an edge repeated from the wrong side shows."""
        width, height = 1001, 817
        x, y = np.arange(width)[None, :], np.arange(height)[:, None]
        blue = 60 + 130 * x / width + 40 * np.sin(2 * np.pi * x / (14 + x / 100))
        red = 60 + 130 * y / height + 40 * np.sin(2 * np.pi * y / (12 + y / 100))
        blue, red = blue * np.ones((height, 1)), red * np.ones((1, width))
        luma = 128 + 40 * np.sin(2 * np.pi * (x + y) / 40)
        planes = np.stack([luma + 0 * blue, blue, red], -1).clip(0, 255).astype(np.uint8)
        return encode(Image.fromarray(planes, "YCbCr").convert("RGB"), "JPEG", quality=95)

    @staticmethod
    def planes(image: Image.Image) -> list[np.ndarray]:
        ycbcr = np.asarray(image.convert("YCbCr"), dtype=np.float64)
        return [ycbcr[..., band] for band in range(3)]

    @pytest.mark.parametrize("size", [(700, 571), (533, 435), (999, 815), (601, 491)])
    def test_what_it_makes_is_a_full_resize_encoded_alike(self, size: tuple[int, int]) -> None:
        # Measured: at most 1.3 (0.7 on the photo); colour half a sample off: 3.8 to 7.9.
        waves = self.colour_waves()
        as_png = encode(decode(waves), "PNG")  # RGB: its planes are made from RGB
        for data in (waves, self.photo(), as_png):
            _, ours = run(
                data, width=size[0], height=size[1], fit=Fit.FILL, quality=100, output_format=JPEG
            )
            expected = decode(data).resize(size, Image.Resampling.LANCZOS)
            expected = decode(encode(expected, "JPEG", quality=100))
            assert ours.size == size
            for name, got, wanted in zip(
                ["Y", "Cb", "Cr"], self.planes(ours), self.planes(expected), strict=True
            ):
                assert np.abs(got - wanted).mean() < 1.6, name
                # No drift either (Pillow's own YCbCr conversion truncates: 0.45 of a level).
                assert abs((got - wanted).mean()) < 0.2, name
                # The last column and row: past an odd edge the planes grow, not stretch.
                assert np.abs(got[:, -1] - wanted[:, -1]).mean() < 2, name
                assert np.abs(got[-1] - wanted[-1]).mean() < 2, name

    @pytest.mark.parametrize(
        "query",
        [
            "w=500&blur=1.5",
            "w=500&sharpen=1",
            "w=500&h=500&fit=contain&bg=336699",
            "w=300&h=300&fit=cover&position=attention",
            "w=300&h=300&fit=cover&position=entropy",
            "w=500 and a watermark",
            "w=500&blur=2 and a watermark",
            "w=500&rotate=90&flip=h",
        ],
    )
    def test_every_edit_makes_what_full_colour_planes_make(self, query: str) -> None:
        """The same request with the path turned off is the independent reference. Blur and
        sharpen work plane by plane, the colour planes at half size with half the sigma;
        padding is left to the full path."""
        mark = Watermark(name="logo", key="k", width=0.3, opacity=0.6)
        picture = Image.new("RGBA", (90, 30), (250, 20, 40, 200))
        query, marked, _ = query.partition(" and a watermark")
        overlays = [overlay_decoded(encode(picture, "PNG"), mark, LIMIT)] if marked else []
        spec = parse_query(query, None, 4096)
        data = self.photo()
        outputs = []
        for output in (JPEG, JPEG._replace(halves_chroma=False)):
            asked = dataclasses.replace(spec, output_format=output, quality=95)
            rendition = render(data, asked, max_pixels=LIMIT, overlays=overlays)
            outputs.append(decode(rendition.body))
        assert outputs[0].size == outputs[1].size
        assert psnr(*outputs) > 40

    @pytest.mark.parametrize("source_format", ["JPEG", "PNG"])
    @pytest.mark.parametrize("orientation", range(1, 9))
    def test_turned_and_mirrored_with_odd_sides(self, orientation: int, source_format: str) -> None:
        """The 2x2 blocks the encoder averages start at the output's top-left corner, which
        may be the stored picture's last column or row: the colour samples must start there
        too, not half a sample off."""
        data = with_orientation(decode(self.colour_waves()), orientation, source_format)
        size = (533, 435)
        _, ours = run(
            data, width=size[0], height=size[1], fit=Fit.FILL, quality=100, output_format=JPEG
        )
        upright = ImageOps.exif_transpose(decode(data))
        assert upright is not None
        expected = upright.resize(size, Image.Resampling.LANCZOS)
        expected = decode(encode(expected, "JPEG", quality=100))
        for name, got, wanted in zip(
            ["Y", "Cb", "Cr"], self.planes(ours), self.planes(expected), strict=True
        ):
            assert np.abs(got - wanted).mean() < 1.6, name
            for edge in (np.s_[:, 0], np.s_[:, -1], np.s_[0], np.s_[-1]):
                assert np.abs(got[edge] - wanted[edge]).mean() < 6, (name, edge)

    @pytest.mark.parametrize("edit", ["blur=1.5", "sharpen=1"])
    def test_blur_and_sharpen_on_colour_that_changes_fast(self, edit: str) -> None:
        """Measured: at most 1.2; the colour planes filtered with the full sigma: 5 to 8, or
        their samples repeated from a grid a pixel short: 4 to 6."""
        spec = parse_query(f"w=533&h=435&fit=fill&{edit}", None, 4096)
        outputs = [
            self.planes(decode(render(self.colour_waves(), asked, max_pixels=LIMIT).body))
            for asked in (
                dataclasses.replace(spec, output_format=JPEG, quality=100),
                dataclasses.replace(
                    spec, output_format=JPEG._replace(halves_chroma=False), quality=100
                ),
            )
        ]
        for name, got, wanted in zip(["Y", "Cb", "Cr"], *outputs, strict=True):
            assert np.abs(got - wanted).mean() < 1.6, name

    def test_a_watermark_keeps_its_colours(self) -> None:
        """Measured: within 0.01 of the full path on average; converted by Pillow's own YCbCr
        conversion (which truncates), red and blue come out 1.1 and 1.3 levels darker."""
        mark = Watermark(name="logo", key="k", width=0.5, opacity=1.0)
        noise = np.random.default_rng(1).integers(0, 256, (60, 120, 3), dtype=np.uint8)
        picture = Image.fromarray(noise, "RGB").convert("RGBA")
        overlay = overlay_decoded(encode(picture, "PNG"), mark, LIMIT)
        spec = TransformSpec(width=500, quality=100)
        made = [
            np.asarray(
                decode(render(self.photo(), asked, max_pixels=LIMIT, overlays=[overlay]).body),
                dtype=np.float64,
            )
            for asked in (
                dataclasses.replace(spec, output_format=JPEG),
                dataclasses.replace(spec, output_format=JPEG._replace(halves_chroma=False)),
            )
        ]
        placed = overlay.placed((made[0].shape[1], made[0].shape[0]))
        assert placed is not None
        (left, top), (width, height) = placed.offset, placed.picture.size
        region = np.s_[top : top + height, left : left + width]
        assert np.abs((made[0][region] - made[1][region]).mean(axis=(0, 1))).max() < 0.3

    def test_a_turned_photo_and_a_grey_one(self) -> None:
        data = with_orientation(decode(self.photo()), 6, "JPEG")
        _, turned = run(data, width=500, quality=100)
        upright = ImageOps.exif_transpose(decode(data))
        assert upright is not None
        assert psnr(turned, reference(upright, TransformSpec(width=500))) > 38
        _, grey = run(data, width=500, grayscale=True, output_format=JPEG)
        assert grey.mode == "L"
        wanted = reference(upright, TransformSpec(width=500)).convert("L")
        assert psnr(grey, wanted) > 38

    def test_a_large_profile_is_applied_to_it(self) -> None:
        large = _with_description_padding(
            Image.open(CORPUS / "exif-orient6.jpg").info["icc_profile"]
        )
        source = decode(self.photo())
        data = encode(source, "JPEG", quality=95, icc_profile=large)
        _, image = run(data, width=600, output_format=JPEG)
        assert "icc_profile" not in image.info
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        converted = ImageCms.profileToProfile(
            source.resize(image.size, Image.Resampling.LANCZOS),
            ImageCms.ImageCmsProfile(io.BytesIO(large)),
            srgb,
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
        )
        assert converted is not None
        assert psnr(image, converted) > 35
        assert psnr(image, source.resize(image.size)) < psnr(image, converted)  # not as stored


def test_ycbcr_both_ways_is_jfif_rounded() -> None:
    """JFIF's equations, computed here; Pillow's own YCbCr conversions truncate instead."""
    rgb = np.random.default_rng(5).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    red, green, blue = (rgb[..., band].astype(np.float64) for band in range(3))
    wanted = np.stack(
        [
            0.299 * red + 0.587 * green + 0.114 * blue,
            128 - 0.168736 * red - 0.331264 * green + 0.5 * blue,
            128 + 0.5 * red - 0.418688 * green - 0.081312 * blue,
        ],
        axis=-1,
    )
    made = colour.ycbcr_of(Image.fromarray(rgb, "RGB"))
    assert made.mode == "YCbCr"
    got = np.asarray(made, dtype=np.float64)
    assert (
        np.abs(got - np.clip(np.floor(wanted + 0.5), 0, 255)).max() <= 1
    )  # ties may go either way
    assert abs((got - wanted).mean()) < 0.02
    luma, cb, cr = (got[..., band] for band in range(3))
    back = np.stack(
        [luma + 1.402 * (cr - 128), luma - 0.344136 * (cb - 128) - 0.714136 * (cr - 128),
         luma + 1.772 * (cb - 128)],
        axis=-1,
    )  # fmt: skip
    again = np.asarray(colour.rgb_of(made), dtype=np.float64)
    assert np.abs(again - np.clip(np.floor(back + 0.5), 0, 255)).max() <= 1
    assert abs((again - np.clip(back, 0, 255)).mean()) < 0.02
