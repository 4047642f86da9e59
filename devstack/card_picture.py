"""Draw a notice's Adaptive Card as a PNG, for the docs: a picture made from the card itself.

    python -m devstack.card_picture MESSAGES.json OUT.png [--digest]

MESSAGES.json is what ``python -m devstack notices --json`` prints (the local receiver's
messages). The first notice (or with ``--digest`` the first digest) is drawn the way Teams lays
a card out: TextBlocks and RichTextBlocks top to bottom, bold and monospace runs, subtle and
attention colours, separators between containers. It draws only the card elements photo-sync
sends; it is a faithful sketch, not Teams' renderer.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from devstack.notices import kind

WIDTH, PAD, CARD_PAD = 760, 16, 18
FONTS = Path("/usr/share/fonts/truetype/dejavu")
COLORS = {"default": (36, 36, 36), "subtle": (97, 97, 97), "attention": (196, 49, 75),
          "separator": (224, 224, 224), "card": (255, 255, 255), "page": (245, 245, 245),
          "border": (209, 209, 209)}
SIZES = {"Medium": 18, "default": 14}

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _font(bold: bool, mono: bool, size: int) -> Font:
    name = "DejaVuSansMono.ttf" if mono else "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(FONTS / name), size)
    except OSError:
        return ImageFont.load_default(size)


@dataclass(frozen=True)
class Run:
    text: str
    font: Font
    color: tuple[int, int, int]


def _run(element: dict[str, Any], size: int) -> Run:
    color = COLORS["attention"] if element.get("color") == "Attention" else \
        COLORS["subtle"] if element.get("isSubtle") else COLORS["default"]
    font = _font(element.get("weight") == "Bolder", element.get("fontType") == "Monospace",
                 SIZES.get(str(element.get("size")), size))
    return Run(str(element.get("text", "")), font, color)


def _paragraphs(body: list[Any]) -> list[tuple[list[Run], bool]]:
    """(runs, separator before) for each text element, containers opened."""
    found: list[tuple[list[Run], bool]] = []
    for element in body:
        if element.get("type") == "TextBlock":
            if element.get("spacing") == "Large":
                found.append(([], False))  # an empty line's worth of space
            found.append(([_run(element, SIZES["default"])], bool(element.get("separator"))))
        elif element.get("type") == "RichTextBlock":
            found.append(([_run(r, SIZES["default"]) for r in element.get("inlines", [])],
                          bool(element.get("separator"))))
        elif element.get("type") == "Container":
            inner = _paragraphs(element.get("items", []))
            if inner and element.get("separator"):
                inner[0] = (inner[0][0], True)
            found += inner
    return found


def _lines(runs: list[Run], width: int) -> list[list[tuple[Run, str]]]:
    """Runs wrapped into lines of (run, text) pieces, breaking at spaces (or anywhere, for a
    word longer than a line)."""
    lines: list[list[tuple[Run, str]]] = [[]]
    used = 0.0
    for run in runs:
        for word in run.text.replace("\n", " ").split(" "):
            for piece in ([f"{word} "] if run.font.getlength(word) < width else list(word)):
                size = run.font.getlength(piece)
                if used + size > width and lines[-1]:
                    lines.append([])
                    used = 0.0
                lines[-1].append((run, piece))
                used += size
    return lines


def draw(card: dict[str, Any]) -> Image.Image:
    inner = WIDTH - 2 * (PAD + CARD_PAD)
    laid = [(_lines(runs, inner), separator) for runs, separator in _paragraphs(card["body"])]

    def height(line: list[tuple[Run, str]]) -> int:
        return max((int(run.font.size) if isinstance(run.font, ImageFont.FreeTypeFont) else 14)
                   for run, _ in line) + 7 if line else 10

    total = sum(sum(height(line) for line in lines) + (14 if sep else 4) for lines, sep in laid)
    image = Image.new("RGB", (WIDTH, total + 2 * (PAD + CARD_PAD) + 28), COLORS["page"])
    pen = ImageDraw.Draw(image)
    pen.text((PAD, PAD - 4), "Workflows", font=_font(True, False, 12), fill=COLORS["subtle"])
    top = PAD + 16
    pen.rounded_rectangle((PAD, top, WIDTH - PAD, image.height - PAD), radius=6,
                          fill=COLORS["card"], outline=COLORS["border"])
    y = top + CARD_PAD
    for lines, separator in laid:
        if separator:
            pen.line((PAD + CARD_PAD, y + 4, WIDTH - PAD - CARD_PAD, y + 4),
                     fill=COLORS["separator"])
            y += 10
        for line in lines:
            x = float(PAD + CARD_PAD)
            for run, text in line:
                pen.text((x, y), text, font=run.font, fill=run.color)
                x += run.font.getlength(text)
            y += height(line)
        y += 4
    return image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.card_picture",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("messages", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--digest", action="store_true", help="draw the first digest instead")
    args = parser.parse_args(argv)
    wanted = "digest" if args.digest else "notice"
    messages = json.loads(args.messages.read_text(encoding="utf-8"))
    bodies = [m["body"] for m in messages if kind(m["body"]) == wanted]
    if not bodies or "attachments" not in bodies[0]:
        print(f"{args.messages} holds no Teams {wanted}", file=sys.stderr)
        return 1
    picture = draw(bodies[0]["attachments"][0]["content"])
    picture.quantize(colors=48).save(args.out, optimize=True)
    print(f"{args.out}: {picture.width}x{picture.height}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
