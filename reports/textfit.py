"""How wide a piece of chart text will be, and how to break it into lines that fit a width.

SVG text does not wrap, and a report has no script to measure it, so the charts estimate: each
character's advance width in DejaVu Sans (regular and bold), one of the widest common sans
fonts and the one Debian's browsers fall back to, so the estimate errs on the wide side for
system fonts such as Segoe UI, San Francisco or Roboto. Characters outside ASCII count as a
wide Latin letter, East Asian wide characters as a full em, combining marks as nothing.
Layout only: no statistics here.
"""

from __future__ import annotations

import re
import unicodedata

# Advance widths of ASCII 32..126 in thousandths of an em (DejaVu Sans Book and Bold).
_REGULAR = (318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636,
            636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752,
            295, 295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390,
            838, 500, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411,
            521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838)
_BOLD = (348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696,
         696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372,
         775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500,
         675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652,
         924, 645, 652, 582, 712, 365, 712, 838)
ELLIPSIS = "…"

# A line may break after a space or after the separators of paths, URLs and qualified names
# ("a::b::c", "svc/checkout", "api.example.com", "some_metric-name").
_PIECES = re.compile(r"[^\s/:._\-?&=,;|)\]]*(?:[\s/:._\-?&=,;|)\]]+|$)")


def _char(ch: str, bold: bool) -> float:
    code = ord(ch)
    if 32 <= code <= 126:
        return (_BOLD if bold else _REGULAR)[code - 32] / 1000
    if unicodedata.combining(ch) or unicodedata.category(ch) in {"Mn", "Me", "Cf"}:
        return 0.0
    if unicodedata.east_asian_width(ch) in {"W", "F"}:
        return 1.05
    return 0.9 if bold else 0.82


def clean(text: object) -> str:
    """The text as SVG shows it: runs of white space (newlines, tabs) as one space."""
    return " ".join(str(text).split())


def width(text: str, size: float, bold: bool = False) -> float:
    """The estimated width in pixels of ``text`` set at ``size`` px."""
    return sum(_char(ch, bold) for ch in text) * size


def _cut(text: str, max_px: float, size: float, bold: bool) -> str:
    """The longest start of ``text`` that fits ``max_px`` with an ellipsis after it, plus the ellipsis."""
    room = max_px - width(ELLIPSIS, size, bold)
    out, used = "", 0.0
    for ch in text:
        w = _char(ch, bold) * size
        if used + w > room:
            break
        out, used = out + ch, used + w
    return out.rstrip() + ELLIPSIS


def wrap(text: object, max_px: float, size: float, lines: int | None = None, bold: bool = False) -> list[str]:
    """``text`` broken into lines no wider than ``max_px`` (breaking inside a word only when it
    alone is too wide); with ``lines``, at most that many, the last cut with '…' if text is left."""
    text = clean(text)
    starts: list[int] = []  # where each line starts in ``text``
    out: list[str] = []
    line, at = "", 0
    for m in _PIECES.finditer(text):
        piece = m.group()
        if not piece:
            continue
        if width((line + piece).rstrip(), size, bold) <= max_px:
            if not line:
                at = m.start()
            line += piece
            continue
        if line.strip():
            out.append(line.rstrip())
            starts.append(at)
        line, at = piece, m.start()
        while width(line.rstrip(), size, bold) > max_px:  # one piece wider than a line: break it by character
            used, k = 0.0, 0
            for ch in line:
                used += _char(ch, bold) * size
                if used > max_px and k:
                    break
                k += 1
            out.append(line[:k])
            starts.append(at)
            line, at = line[k:], at + k
    if line.strip():
        out.append(line.rstrip())
        starts.append(at)
    if not out:
        return [""]
    if lines is not None and len(out) > lines:
        out = out[: lines - 1] + [_cut(text[starts[lines - 1]:], max_px, size, bold)]
    return out
