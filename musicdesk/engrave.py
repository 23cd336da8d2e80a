"""Engrave MusicXML into SVG pages (verovio) that Qt can draw, with note geometry and re-colouring.

`engrave(musicxml)` lays the score out with verovio and returns an `Engraving`: one SVG string per page,
which page each note is on, each note head's box, and `coloured(...)` to paint notes without laying the
score out again.

Ids: `musicdesk.score.score_to_musicxml` writes ``<note id="X">`` with X = `ScoreNote.element_id`; verovio
keeps that id on the note's SVG group ``<g class="note" id="X">``.

Geometry is in each page's SVG *user units* (the root ``viewBox``; verovio uses 10 units per layout
pixel, so a 2100-wide page is 21000 units wide). A note's box is the box of its note head glyph(s):
the ``<use>`` elements under ``<g class="notehead">``, each ``translate(x, y) scale(s)`` applied to the
referenced glyph path's bounds (the path's end and control points, a slightly generous box), plus the
translations of the enclosing groups (the page margin). The page's pixel size is the root
``width``/``height``; `px_per_unit` converts.

Qt's SVG renderer (QSvgRenderer, SVG Tiny 1.2) needs three fixes, made here so every consumer gets
drawable pages: verovio's nested ``<svg class="definition-scale" viewBox=...>`` is skipped by Qt (blank
page), so it becomes a ``<g>`` and its viewBox moves to the root; nested ``<tspan>``s are dropped by Qt
(text such as the part name and tempo would vanish), so each ``<text>`` is flattened to one level; the
SMuFL metronome glyphs (Leipzig font code points, which Qt cannot draw) become Unicode note symbols.

No Qt here: this module is plain text/XML work over verovio.
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["Engraving", "EngraveError", "engrave", "verovio_toolkit"]

_SVG = "{http://www.w3.org/2000/svg}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"

Box = tuple[float, float, float, float]  # x, y, w, h in SVG user units


class EngraveError(ValueError):
    """A score could not be engraved; the message says what to do."""


@dataclass(frozen=True)
class Engraving:
    """An engraved score: Qt-drawable SVG pages plus where every note is.

    pages: one SVG document per page (uncoloured). note_page: note element id -> 0-based page.
    note_ids_in_order: the note ids in page/document order. page_sizes: (width, height) of each page in
    SVG user units (its viewBox); page_sizes_px: the same in pixels at the engraving's scale.
    tie_root: for each note head that continues a tie, the id of the tie's first note (the id the Score
    uses for the whole tied note).
    """

    pages: tuple[str, ...]
    note_page: dict[str, int]
    note_ids_in_order: tuple[str, ...]
    page_sizes: tuple[tuple[float, float], ...]
    page_sizes_px: tuple[tuple[float, float], ...]
    tie_root: dict[str, str]
    _note_boxes: dict[str, Box] = field(repr=False)
    _note_staff_boxes: dict[str, Box] = field(repr=False)
    _measure_boxes: dict[str, tuple[int, Box]] = field(repr=False)
    _segments: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = field(repr=False)

    @property
    def n_pages(self) -> int:
        return len(self.pages)

    def px_per_unit(self, page: int = 0) -> float:
        """Pixels (the page's default rendering size) per SVG user unit."""
        return self.page_sizes_px[page][0] / self.page_sizes[page][0]

    def note_bbox(self, note_id: str) -> tuple[int, float, float, float, float]:
        """(page, x, y, w, h) of the note's head in the page's SVG user units. KeyError if not engraved."""
        x, y, w, h = self._note_boxes[note_id]
        return self.note_page[note_id], x, y, w, h

    def note_staff_bbox(self, note_id: str) -> tuple[int, float, float, float, float]:
        """(page, x, y, w, h): the note head's x range by the full height of its staff (for a cursor)."""
        x, y, w, h = self._note_staff_boxes[note_id]
        return self.note_page[note_id], x, y, w, h

    def measure_bbox(self, measure_number: int | str) -> tuple[int, float, float, float, float]:
        """(page, x, y, w, h) of the measure with that printed number (its staff lines), first if
        repeated. KeyError if there is none."""
        page, (x, y, w, h) = self._measure_boxes[str(measure_number)]
        return page, x, y, w, h

    def measure_numbers(self) -> tuple[str, ...]:
        """Printed measure numbers in engraved order (strings, as the score writes them)."""
        return tuple(self._measure_boxes)

    def notes_on_page(self, page: int) -> list[str]:
        """Ids of the notes drawn on that page, in document order."""
        return [n for n in self.note_ids_in_order if self.note_page[n] == page]

    def note_at(self, page: int, x: float, y: float, tolerance: float = 0.0) -> str | None:
        """Id of the note head on `page` containing (x, y) in user units, else the nearest one whose box is
        within `tolerance` units; None when there is none (for click hit-testing). A head that continues
        a tie gives the id of the tie's first note (the Score's note)."""
        best, best_d = None, float("inf")
        for nid in self.note_ids_in_order:
            if self.note_page[nid] != page:
                continue
            bx, by, bw, bh = self._note_boxes[nid]
            dx = max(bx - x, 0.0, x - (bx + bw))
            dy = max(by - y, 0.0, y - (by + bh))
            d = (dx * dx + dy * dy) ** 0.5
            if d == 0.0:  # inside: prefer the box whose centre is closest (overlapping chord heads)
                d = -1.0 / (1.0 + abs(x - (bx + bw / 2)) + abs(y - (by + bh / 2)))
            if d < best_d:
                best, best_d = nid, d
        if best is None or best_d > tolerance:
            return None
        return self.tie_root.get(best, best)

    def coloured(self, colours: Mapping[str, str]) -> tuple[str, ...]:
        """The pages with each listed note (id -> CSS colour such as "#d62728" or "green") painted in
        that colour: head, stem, accidental, dots and flag. The later heads of a tied note take its
        colour unless listed themselves. Ids that are not engraved are ignored.
        No re-layout: a string join per page (about a millisecond)."""
        colours = dict(colours)
        for cont, first in self.tie_root.items():
            if first in colours and cont not in colours:
                colours[cont] = colours[first]
        attrs = {}
        for nid, colour in colours.items():
            c = str(colour).strip()
            if not _COLOUR_OK.match(c):
                raise ValueError(f"Not a CSS colour: {colour!r} (for note {nid}); use e.g. '#2e9d46' or 'red'.")
            attrs[nid] = f' fill="{c}" stroke="{c}" color="{c}"'
        out = []
        for parts, ids in self._segments:
            if not attrs or not any(i in attrs for i in ids):
                out.append("".join(parts))
                continue
            buf = [parts[0]]
            for nid, nxt in zip(ids, parts[1:]):
                buf.append(attrs.get(nid, ""))
                buf.append(nxt)
            out.append("".join(buf))
        return tuple(out)


_COLOUR_OK = re.compile(r"^[#\w(),.%\s-]{1,64}$")


def verovio_toolkit():
    """A verovio toolkit that finds its fonts in any thread.

    verovio's module sets the font resource path on import, for the importing thread only; a toolkit
    made in any other thread (the window engraves in workers) starts with a build-time path and can
    load no font, so every score then fails to load."""
    import verovio

    tk = verovio.toolkit()
    data = os.path.join(os.path.dirname(verovio.__file__), "data")
    if os.path.isdir(data):
        tk.setResourcePath(data)
    return tk


def engrave(musicxml: str, page_width_px: int = 2100, scale: int = 40,
            page_height_px: int = 2970) -> Engraving:
    """Lay out MusicXML text with verovio into pages of `page_width_px` x `page_height_px` layout pixels
    (systems break to fit the width; pages break at the height; the last page is cut to its content),
    drawn at `scale` percent. Raises EngraveError when verovio cannot read or lay out the score."""
    try:
        import verovio
    except ImportError as e:  # pragma: no cover - dependency missing
        raise EngraveError(f"verovio is not installed ({e}); reinstall musicdesk (pip install verovio).") from None
    if not isinstance(musicxml, str) or "<" not in musicxml:
        raise EngraveError("Nothing to engrave: expected MusicXML text (see musicdesk.score.score_to_musicxml).")
    if page_width_px < 100 or page_height_px < 100 or not (1 <= scale <= 1000):
        raise EngraveError(f"Bad page size/scale ({page_width_px}x{page_height_px} px, {scale}%): use a page "
                           f"of at least 100x100 layout pixels and a scale between 1 and 1000 percent.")
    ties = _tie_roots(_check_musicxml(musicxml))
    verovio.enableLog(verovio.LOG_OFF)
    tk = verovio_toolkit()
    tk.setOptions({
        "pageWidth": int(page_width_px), "pageHeight": int(page_height_px), "adjustPageHeight": True,
        "scale": int(scale), "breaks": "auto", "header": "none", "footer": "none",
        "smuflTextFont": "none", "svgAdditionalAttribute": ["measure@n"], "xmlIdChecksum": True,
        "inputFrom": "musicxml",
    })
    if not tk.loadData(musicxml):
        raise EngraveError("verovio could not read this MusicXML; re-export the score as uncompressed "
                           "MusicXML from your notation program and try again.")
    n = tk.getPageCount()
    if n < 1:
        raise EngraveError("verovio laid the score out on no page (is it empty?); load a score with notes.")

    pages, sizes, sizes_px, segments = [], [], [], []
    note_page: dict[str, int] = {}
    order: list[str] = []
    boxes: dict[str, Box] = {}
    staff_boxes: dict[str, Box] = {}
    measures: dict[str, tuple[int, Box]] = {}
    for p in range(n):
        svg, size, size_px = _qt_compatible(tk.renderToSVG(p + 1))
        geo = _geometry(svg)
        for nid, box, sbox in geo.notes:
            if nid in note_page:  # duplicate id (should not happen): keep the first
                continue
            note_page[nid] = p
            order.append(nid)
            boxes[nid] = box
            staff_boxes[nid] = sbox
        for num, box in geo.measures:
            measures.setdefault(num, (p, box))
        pages.append(svg)
        sizes.append(size)
        sizes_px.append(size_px)
        segments.append(_split_at_notes(svg))
    return Engraving(pages=tuple(pages), note_page=note_page, note_ids_in_order=tuple(order),
                     page_sizes=tuple(sizes), page_sizes_px=tuple(sizes_px),
                     tie_root={k: v for k, v in ties.items() if k in note_page}, _note_boxes=boxes,
                     _note_staff_boxes=staff_boxes, _measure_boxes=measures, _segments=tuple(segments))


def _check_musicxml(text: str) -> ET.Element:
    """verovio accepts anything (it draws an empty page), so refuse text that is not MusicXML here."""
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as e:
        raise EngraveError(f"Cannot engrave: the MusicXML text is not well-formed XML ({e}); re-export the "
                           f"score from your notation program.") from None
    if root.tag not in ("score-partwise", "score-timewise"):
        raise EngraveError(f"Cannot engrave: the root element is <{root.tag}>, not <score-partwise>; "
                           f"pass MusicXML (see musicdesk.score.score_to_musicxml).")
    return root


def _tie_roots(root: ET.Element) -> dict[str, str]:
    """Note id -> id of the first note of its tie chain, for the tied-to notes (the Score merges a tie
    into its first note, so the later heads take that note's colour and clicks)."""
    out: dict[str, str] = {}
    for pi, part in enumerate(root.iter("part")):
        open_: dict[tuple, str] = {}
        for n in part.iter("note"):
            nid, pitch = n.get("id"), n.find("pitch")
            if not nid or pitch is None:
                continue
            key = (pi, n.findtext("staff", "1").strip(), pitch.findtext("step", "").strip(),
                   float(pitch.findtext("alter", "0") or 0), pitch.findtext("octave", "").strip())
            types = {t.get("type") for t in n.findall("tie")}
            if "stop" in types:
                prev = open_.pop(key, None)
                if prev is not None:
                    out[nid] = out.get(prev, prev)
            if "start" in types:
                open_[key] = nid
    return out


# ----------------------------------------------------------------------------------------------------
# making verovio's SVG drawable by Qt

_INNER_SVG = re.compile(r'<svg\b([^>]*?)\sclass="definition-scale"([^>]*)>|<svg\s+class="definition-scale"([^>]*)>')
_VIEWBOX = re.compile(r'\sviewBox="([^"]*)"')
_FONT_FACE_STYLE = re.compile(r"<style[^>]*>\s*@font-face.*?</style>", re.S)
_TEXT = re.compile(r"(<text\b[^>]*(?<!/)>)(.*?)(</text>)", re.S)   # not an empty <text ... /> (a tempo
                                                                    # mark with no words), which has no end tag
_EMPTY_TEXT = re.compile(r"<text\b[^>]*/>")
_FAMILY_LIST = re.compile(r'font-family="\s*[\'"]?([^",\']+)[\'"]?\s*,[^"]*"')   # "Times, serif"
_LEAF_TSPAN = re.compile(r"<tspan\b([^>]*)>([^<]*)</tspan>")
_ATTR = re.compile(r'([\w:-]+)="([^"]*)"')

# SMuFL metronome-mark glyphs (Leipzig private-use code points) -> Unicode note symbols
_SMUFL_TEXT = {}
for _base in (0xECA0, 0xE1D0):  # "metronome marks" (verovio >= 4) and "individual notes" ranges
    _off = {0: "\U0001D15C", 2: "\U0001D15D", 3: "\U0001D15E", 4: "\U0001D15E", 5: "\u2669", 6: "\u2669",
            7: "\u266A", 8: "\u266A", 9: "\u266C", 10: "\u266C"}
    for _k, _v in _off.items():
        _SMUFL_TEXT[chr(_base + _k)] = _v
_SMUFL_TEXT[chr(0xECB7)] = "."   # metAugmentationDot
_SMUFL_TEXT[chr(0xE1E7)] = "."   # augmentationDot (individual notes)


def _qt_compatible(svg: str) -> tuple[str, tuple[float, float], tuple[float, float]]:
    """Rewrite one verovio page for QSvgRenderer; return it with its viewBox size and pixel size."""
    m = _INNER_SVG.search(svg)
    if m is None:
        raise EngraveError("verovio produced an SVG page without its 'definition-scale' group; "
                           "this verovio version is not supported (use verovio 4 or newer).")
    inner_attrs = " ".join(a for a in m.groups() if a)
    vb = _VIEWBOX.search(inner_attrs)
    if vb is None:
        raise EngraveError("verovio's SVG page has no viewBox; this verovio version is not supported.")
    inner_attrs = _VIEWBOX.sub("", inner_attrs)
    close = svg.index("</svg>", m.end())
    svg = svg[:m.start()] + f'<g class="definition-scale"{" " + inner_attrs.strip() if inner_attrs.strip() else ""}>' \
        + svg[m.end():close] + "</g>" + svg[close + len("</svg>"):]
    root_end = svg.index(">", svg.index("<svg"))
    root_tag = svg[svg.index("<svg"):root_end]
    root_attrs = dict(_ATTR.findall(root_tag))
    svg = svg[:root_end] + f' viewBox="{vb.group(1)}"' + svg[root_end:]
    svg = _FONT_FACE_STYLE.sub("", svg)
    svg = _EMPTY_TEXT.sub("", svg)          # draws nothing; Qt warns about its font size of 0
    svg = _TEXT.sub(_flatten_text, svg)
    # QSvgRenderer reads a family list as one name that no font has, and draws the default sans-serif in
    # its place: verovio's text ("Times, serif") came out in DejaVu Sans, wider than the Times widths it
    # spaced the notes for, so the lab's note names ran into each other
    svg = _FAMILY_LIST.sub(r'font-family="\1"', svg)

    nums = [float(v) for v in vb.group(1).replace(",", " ").split()]
    size = (nums[2], nums[3])
    try:
        size_px = (float(root_attrs["width"].rstrip("px")), float(root_attrs["height"].rstrip("px")))
    except (KeyError, ValueError):
        size_px = size
    return svg, size, size_px


def _flatten_text(m: re.Match) -> str:
    """<text><tspan><tspan a>x</tspan></tspan>...</text> -> <text><tspan a>x</tspan>...</text>
    (Qt drops nested tspans). A zero font size on <text> becomes the largest inner size."""
    open_tag, body, close_tag = m.groups()
    leaves = _LEAF_TSPAN.findall(body)
    if not leaves:
        return m.group(0)
    out, sizes = [], []
    for attrs, text in leaves:
        a = dict(_ATTR.findall(attrs))
        keep = {k: v for k, v in a.items() if k in ("font-size", "font-family", "font-style", "font-weight",
                                                     "fill", "x", "y", "dx", "dy", "text-anchor")}
        if keep.get("font-family", "").strip("'\"") == "Leipzig" or any(ch in _SMUFL_TEXT for ch in text):
            text = "".join(_SMUFL_TEXT.get(ch, ch) for ch in text)
            keep["font-family"] = "DejaVu Sans"
            if "font-size" in keep:  # Leipzig glyphs are drawn larger than text; Unicode ones need less
                keep["font-size"] = _scale_px(keep["font-size"], 0.6)
        if "font-size" in keep:
            sizes.append(keep["font-size"])
        out.append("<tspan" + "".join(f' {k}="{v}"' for k, v in keep.items()) + ">" + text + "</tspan>")
    if sizes and re.search(r'font-size="0(px)?"', open_tag):
        biggest = max(sizes, key=lambda s: _px(s))
        open_tag = re.sub(r'font-size="0(px)?"', f'font-size="{biggest}"', open_tag)
    return open_tag + "".join(out) + close_tag


def _px(s: str) -> float:
    try:
        return float(s.strip().rstrip("px"))
    except ValueError:
        return 0.0


def _scale_px(s: str, f: float) -> str:
    v = _px(s)
    return f"{v * f:g}px" if v else s


_NOTE_OPEN = re.compile(r"<g\b[^>]*\bclass=\"note\b[^\"]*\"[^>]*?(?=/?>)")
_ID = re.compile(r'\bid="([^"]*)"')


def _split_at_notes(svg: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Cut a page just before the end of each note group's opening tag, so colours can be inserted by a join."""
    parts, ids, last = [], [], 0
    for m in _NOTE_OPEN.finditer(svg):
        im = _ID.search(m.group(0))
        if im is None:
            continue
        parts.append(svg[last:m.end()])
        ids.append(im.group(1))
        last = m.end()
    parts.append(svg[last:])
    return tuple(parts), tuple(ids)


# ----------------------------------------------------------------------------------------------------
# geometry

_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_CMD_TOKENS = re.compile(r"[MmLlHhVvCcSsQqTtAaZz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ARGS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}

Affine = tuple[float, float, float, float]  # x' = sx * x + tx, y' = sy * y + ty  (sx, sy, tx, ty)
_IDENTITY: Affine = (1.0, 1.0, 0.0, 0.0)


def _parse_transform(t: str | None) -> Affine:
    """translate/scale/matrix (no rotation or skew) -> affine; other parts are ignored."""
    if not t:
        return _IDENTITY
    sx, sy, tx, ty = _IDENTITY
    for name, args in re.findall(r"(translate|scale|matrix)\s*\(([^)]*)\)", t):
        v = [float(x) for x in _NUM.findall(args)]
        if name == "translate" and v:
            a = (1.0, 1.0, v[0], v[1] if len(v) > 1 else 0.0)
        elif name == "scale" and v:
            a = (v[0], v[1] if len(v) > 1 else v[0], 0.0, 0.0)
        elif name == "matrix" and len(v) == 6:
            a = (v[0], v[3], v[4], v[5])
        else:
            continue
        sx, sy, tx, ty = _compose((sx, sy, tx, ty), a)
    return sx, sy, tx, ty


def _compose(outer: Affine, inner: Affine) -> Affine:
    """outer ∘ inner (apply inner first)."""
    osx, osy, otx, oty = outer
    isx, isy, itx, ity = inner
    return osx * isx, osy * isy, osx * itx + otx, osy * ity + oty


def _apply_box(a: Affine, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Affine applied to (x0, y0, x1, y1) -> (x0, y0, x1, y1), normalised."""
    sx, sy, tx, ty = a
    x0, y0, x1, y1 = box
    xa, xb = sx * x0 + tx, sx * x1 + tx
    ya, yb = sy * y0 + ty, sy * y1 + ty
    return min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)


def _path_bounds(d: str) -> tuple[float, float, float, float] | None:
    """Bounds (x0, y0, x1, y1) of an SVG path over its end and control points (curves included
    conservatively; arcs by their end points)."""
    toks = _CMD_TOKENS.findall(d)
    xs: list[float] = []
    ys: list[float] = []
    cx = cy = sx0 = sy0 = 0.0
    cmd = None
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.isalpha():
            cmd = t
            i += 1
            if cmd in "Zz":
                cx, cy = sx0, sy0
                continue
        if cmd is None:
            return None
        up = cmd.upper()
        n = _ARGS[up]
        if n == 0 or i + n > len(toks):
            break
        try:
            v = [float(x) for x in toks[i:i + n]]
        except ValueError:
            break
        i += n
        rel = cmd.islower()
        if up == "H":
            cx = cx + v[0] if rel else v[0]
            pts = [(cx, cy)]
        elif up == "V":
            cy = cy + v[0] if rel else v[0]
            pts = [(cx, cy)]
        elif up == "A":
            ex, ey = (cx + v[5], cy + v[6]) if rel else (v[5], v[6])
            pts = [(ex, ey)]
            cx, cy = ex, ey
        else:
            pts = [((cx + v[k]) if rel else v[k], (cy + v[k + 1]) if rel else v[k + 1]) for k in range(0, n, 2)]
            cx, cy = pts[-1]
        if up == "M":
            sx0, sy0 = cx, cy
            cmd = "l" if rel else "L"  # further pairs after a moveto are linetos
        for px, py in pts:
            xs.append(px)
            ys.append(py)
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)


def _line_bounds(d: str) -> tuple[float, float, float, float] | None:
    """Bounds of a path made of absolute M/L pairs (verovio's staff lines)."""
    v = [float(x) for x in _NUM.findall(d)]
    if len(v) < 2:
        return None
    xs, ys = v[0::2], v[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _union(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _to_xywh(b) -> Box:
    return b[0], b[1], b[2] - b[0], b[3] - b[1]


def _classes(el: ET.Element) -> set[str]:
    return set((el.get("class") or "").split())


@dataclass
class _PageGeometry:
    notes: list[tuple[str, Box, Box]]       # id, note head box, head x-range by staff height
    measures: list[tuple[str, Box]]         # printed number, staff-lines box


def _geometry(svg: str) -> _PageGeometry:
    root = ET.fromstring(svg)
    glyphs: dict[str, tuple[float, float, float, float]] = {}
    defs = root.find(f"{_SVG}defs")
    if defs is not None:
        for g in defs:
            b = None
            for path in g.iter(f"{_SVG}path"):
                pb = _path_bounds(path.get("d") or "")
                if pb is not None:
                    b = _union(b, _apply_box(_parse_transform(path.get("transform")), pb))
            if b is not None and g.get("id"):
                glyphs[g.get("id")] = b

    geo = _PageGeometry(notes=[], measures=[])

    def use_bounds(use: ET.Element, a: Affine):
        ref = (use.get(_XLINK_HREF) or use.get("href") or "").lstrip("#")
        gb = glyphs.get(ref)
        if gb is None:
            return None
        ua = _compose(a, _parse_transform(use.get("transform")))
        ux, uy = float(use.get("x") or 0), float(use.get("y") or 0)
        return _apply_box(_compose(ua, (1.0, 1.0, ux, uy)), gb)

    def staff_lines(staff: ET.Element, a: Affine):
        b = None
        for path in staff.findall(f"{_SVG}path"):
            lb = _line_bounds(path.get("d") or "")
            if lb is not None:
                b = _union(b, _apply_box(_compose(a, _parse_transform(path.get("transform"))), lb))
        return b

    def note_head(note: ET.Element, a: Affine):
        b = None
        heads = [h for h in note.iter(f"{_SVG}g") if "notehead" in _classes(h)] or [note]
        for h in heads:
            for use in h.iter(f"{_SVG}use"):
                b = _union(b, use_bounds(use, a))
        return b

    def walk(el: ET.Element, a: Affine, staff_box, measure_acc):
        a = _compose(a, _parse_transform(el.get("transform")))
        cls = _classes(el)
        if "staff" in cls and el.tag == f"{_SVG}g":
            staff_box = staff_lines(el, a)
            if measure_acc is not None:
                measure_acc[0] = _union(measure_acc[0], staff_box)
        if "measure" in cls and el.tag == f"{_SVG}g":
            acc = [None]
            for ch in el:
                walk(ch, a, staff_box, acc)
            if acc[0] is not None:
                geo.measures.append((el.get("data-n") or "", _to_xywh(acc[0])))
            return
        if "note" in cls and el.tag == f"{_SVG}g" and el.get("id"):
            hb = note_head(el, a)
            if hb is not None:
                sb = staff_box or hb
                geo.notes.append((el.get("id"), _to_xywh(hb),
                                  _to_xywh((hb[0], min(sb[1], hb[1]), hb[2], max(sb[3], hb[3])))))
            # notes may nest (grace groups), keep walking
        for ch in el:
            walk(ch, a, staff_box, measure_acc)

    for ch in root:
        if ch.tag != f"{_SVG}defs":
            walk(ch, _IDENTITY, None, None)
    return geo
