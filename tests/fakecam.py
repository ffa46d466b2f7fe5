"""Pictures and .y4m videos for Chromium's fake camera (--use-file-for-fake-video-capture)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

import qrcode
from PIL import Image, ImageChops

SIZE = (640, 480)
BACKGROUND = 128  # mid grey: a desk or a lap behind the badge
VARIANTS = ("normal", "small", "rotated", "dim")


def qr_image(text: str, box: int = 300) -> Image.Image:
    """A black-on-white QR of `text` (error correction M, 4-module quiet zone), `box` px square."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=1)
    qr.add_data(text)
    qr.make(fit=True)
    img = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    return img.resize((box, box), Image.Resampling.NEAREST)


def blank_scene(size: tuple[int, int] = SIZE) -> Image.Image:
    """A camera pointed at nothing in particular: grey with a few soft shapes, no code."""
    img = Image.new("L", size, BACKGROUND)
    w, h = size
    img.paste(170, (w // 8, h // 6, w // 3, h // 2))
    img.paste(90, (w // 2, h // 2, w - w // 6, h - h // 8))
    return img.convert("RGB")


def scene(text: str, variant: str = "normal", size: tuple[int, int] = SIZE) -> Image.Image:
    """The QR of `text` held in front of the camera.

    Variants: "normal" (300 px), "small" (120 px), "rotated" (12 degrees), "dim" (low light and
    sensor noise).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    code = qr_image(text, box=120 if variant == "small" else 300)
    if variant == "rotated":
        code = code.rotate(12, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=BACKGROUND)
    img = Image.new("L", size, BACKGROUND)
    img.paste(code, ((size[0] - code.width) // 2, (size[1] - code.height) // 2))
    if variant == "dim":
        img = _dim(img)
    return img.convert("RGB")


def _dim(img: Image.Image, seed: int = 1) -> Image.Image:
    # Low light: white paper at ~85, black at ~10, then +-20 of uniform noise (seeded, so the
    # same test sees the same picture every run).
    dark = img.point(lambda v: int(v * 0.3 + 10))
    rng = random.Random(seed)
    noise = Image.frombytes("L", img.size, rng.randbytes(img.width * img.height))
    noise = noise.point(lambda v: v * 40 // 255)
    return ImageChops.add(dark, noise, scale=1.0, offset=-20)


def write_y4m(
    path: str | Path,
    image: Image.Image,
    frames: int = 10,
    size: tuple[int, int] = SIZE,
) -> Path:
    """Write `image` as a still video of `frames` identical frames (Chromium loops it)."""
    return write_y4m_sequence(path, [(image, frames)], size=size)


def write_y4m_sequence(
    path: str | Path,
    shots: Iterable[tuple[Image.Image, int]],
    size: tuple[int, int] = SIZE,
) -> Path:
    """Write a video showing each (image, frames) in turn at 25 fps, e.g. a blank scene for
    50 frames (2 s) and then a badge. Chromium loops the file when it reaches the end."""
    width, height = size
    if width % 2 or height % 2:
        raise ValueError("y4m 4:2:0 needs an even width and height")
    path = Path(path)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for image, frames in shots:
            frame = _yuv420(image, size)
            for _ in range(frames):
                out.write(b"FRAME\n")
                out.write(frame)
    return path


def _yuv420(image: Image.Image, size: tuple[int, int]) -> bytes:
    img = image.convert("RGB")
    if img.size != size:
        img = img.resize(size, Image.Resampling.BILINEAR)
    y, cb, cr = img.convert("YCbCr").split()
    half = (size[0] // 2, size[1] // 2)
    # C420jpeg sites chroma between the luma samples, which a 2x2 box average matches.
    cb = cb.resize(half, Image.Resampling.BOX)
    cr = cr.resize(half, Image.Resampling.BOX)
    return y.tobytes() + cb.tobytes() + cr.tobytes()
