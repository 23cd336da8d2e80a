"""musicdesk.engrave: verovio pages that Qt draws, every score note on a page, boxes, colouring."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from musicdesk.engrave import EngraveError, Engraving, engrave
from musicdesk.score import example_score_path, load_score, score_to_musicxml

SCORES = Path(__file__).resolve().parent.parent / "resources" / "scores"
RED = "#d62728"


def _engrave_file(path, part=None, **kw) -> tuple:
    score = load_score(path, part=part)
    return score, engrave(score_to_musicxml(path, part=score.part), **kw)


@pytest.fixture(scope="module")
def example():
    return _engrave_file(example_score_path())


@pytest.fixture(scope="module")
def long_score_path(tmp_path_factory) -> str:
    """A real reel from music21's corpus (repeats, 131 written notes) as MusicXML."""
    from music21 import corpus

    path = tmp_path_factory.mktemp("long") / "acacia.musicxml"
    corpus.parse("ryansMammoth/AcaciaReel").write("musicxml", fp=str(path))
    return str(path)


def _render(qapp, svg: str, factor: float = 2.0):
    """Draw one SVG page with QSvgRenderer onto a white QImage `factor` times its default size."""
    from PySide6.QtCore import QByteArray
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    r = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    assert r.isValid()
    size = r.defaultSize() * factor
    img = QImage(size, QImage.Format.Format_RGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    r.render(p)
    p.end()
    return img


def _pixels_in(img, eng: Engraving, nid: str, factor: float = 2.0) -> list[tuple[int, int, int]]:
    page, x, y, w, h = eng.note_bbox(nid)
    k = eng.px_per_unit(page) * factor
    out = []
    for px in range(int(x * k) + 1, int((x + w) * k)):
        for py in range(int(y * k) + 1, int((y + h) * k)):
            c = img.pixelColor(px, py)
            out.append((c.red(), c.green(), c.blue()))
    return out


def _is_dark(c) -> bool:
    return max(c) < 90


def _is_red(c) -> bool:
    return c[0] > 150 and c[1] < 90 and c[2] < 90


def _check_all_notes(score, eng: Engraving) -> None:
    ids = {n.element_id for n in score.notes}
    missing = sorted(ids - set(eng.note_page))
    assert not missing, f"notes not engraved: {missing[:5]}"
    for nid in ids:
        page, x, y, w, h = eng.note_bbox(nid)
        assert 0 <= page < eng.n_pages
        pw, ph = eng.page_sizes[page]
        assert 0 <= x and x + w <= pw and 0 <= y and y + h <= ph, (nid, x, y, w, h, pw, ph)
        assert 50 < w < 1000 and 50 < h < 1000  # a note head, in units (10 per layout pixel)
        assert f'id="{nid}"' in eng.pages[page]
    assert set(eng.note_ids_in_order) >= ids


def test_example_every_note_engraved_fast(example):
    score, eng = example
    _check_all_notes(score, eng)
    assert eng.n_pages == 1 and len(score.notes) == 35
    xml = score_to_musicxml(example_score_path())
    t0 = time.perf_counter()
    engrave(xml)
    dt = time.perf_counter() - t0
    print(f"engrave 35-note example: {dt * 1000:.0f} ms")
    assert dt < 0.5
    # the note boxes follow the music: in one system, x grows note by note
    xs = [eng.note_bbox(n.element_id)[1] for n in score.notes[:8]]
    assert xs == sorted(xs)


def test_pages_are_qt_drawable(qapp, example):
    """Verovio's nested <svg> is gone (Qt would draw a blank page) and the page has ink on it."""
    _, eng = example
    svg = eng.pages[0]
    assert svg.count("<svg") == 1 and 'class="definition-scale"' in svg and "viewBox=" in svg
    assert "@font-face" not in svg
    img = _render(qapp, svg)
    dark = sum(1 for x in range(0, img.width(), 3) for y in range(0, img.height(), 3)
               if img.pixelColor(x, y).lightness() < 100)
    assert dark > 500
    # the note head boxes are where ink is drawn
    for n in example[0].notes[:10]:
        px = _pixels_in(img, eng, n.element_id)
        assert sum(map(_is_dark, px)) > 0.3 * len(px), n.element_id


@pytest.mark.parametrize("name,part", [("example_tune.abc", None), ("example_tune.mid", None),
                                       ("example_transposing.musicxml", 0),
                                       ("example_transposing.musicxml", "Alto Saxophone")])
def test_other_formats_and_parts(qapp, name, part):
    score, eng = _engrave_file(SCORES / name, part=part)
    _check_all_notes(score, eng)
    img = _render(qapp, eng.pages[0], factor=1.0)
    assert any(img.pixelColor(x, y).lightness() < 100 for x in range(0, img.width(), 2)
               for y in range(0, img.height(), 2))
    # each printed measure of the part's notes has a box that holds its notes' heads
    for n in score.notes:
        page, mx, my, mw, mh = eng.measure_bbox(n.measure)
        npage, x, y, w, h = eng.note_bbox(n.element_id)
        assert page == npage and mx <= x + w / 2 <= mx + mw, (n.measure, n.element_id)


@pytest.mark.parametrize("part", [0, 1])
def test_note_heads_sit_at_their_written_pitch(part):
    """The head boxes are exact: each head's centre lies (F5 - written pitch) half staff spaces below the
    top staff line (treble clef, 180 units a space). The B-flat clarinet and E-flat alto sax parts are
    engraved as written, not at the sounding pitch the Score compares with."""
    from music21.pitch import Pitch

    score, eng = _engrave_file(SCORES / "example_transposing.musicxml", part=part)
    assert any(n.written_midi != n.midi for n in score.notes)
    top_line = Pitch("F5").diatonicNoteNum
    for n in score.notes:
        page, x, y, w, h = eng.note_bbox(n.element_id)
        _, mx, staff_top, mw, mh = eng.measure_bbox(n.measure)
        assert mh == pytest.approx(4 * 180, abs=20)
        want = (top_line - Pitch(midi=n.written_midi).diatonicNoteNum) * 90
        assert y + h / 2 - staff_top == pytest.approx(want, abs=10), n


def test_colouring_changes_only_that_note(qapp, example):
    score, eng = example
    target = score.notes[3].element_id
    t0 = time.perf_counter()
    pages = eng.coloured({target: RED})
    assert time.perf_counter() - t0 < 0.05
    assert len(pages) == eng.n_pages and pages != eng.pages
    plain, col = _render(qapp, eng.pages[0]), _render(qapp, pages[0])
    red_now = sum(map(_is_red, _pixels_in(col, eng, target)))
    assert sum(map(_is_red, _pixels_in(plain, eng, target))) == 0
    assert red_now > 0.3 * len(_pixels_in(col, eng, target))
    for n in score.notes:
        if n.element_id != target:
            assert not any(map(_is_red, _pixels_in(col, eng, n.element_id))), n.element_id
    # the uncoloured pages are untouched, and clearing gives them back
    assert eng.coloured({}) == eng.pages
    # several colours at once, ids that are not engraved are ignored
    two = eng.coloured({score.notes[0].element_id: "green", score.notes[1].element_id: "#ff8c00",
                        "no-such-note": "red"})
    assert two[0].count('fill="green"') == 1 and two[0].count('fill="#ff8c00"') == 1


def test_tied_heads_follow_their_first_note(qapp, example):
    """The example ties bar 7 into bar 8: the Score has one note (the first head's id); colouring it
    colours both heads, and a click on the second head selects that note."""
    score, eng = example
    ids = {n.element_id for n in score.notes}
    assert eng.tie_root and all(first in ids and cont not in ids for cont, first in eng.tie_root.items())
    cont, first = next(iter(eng.tie_root.items()))
    img = _render(qapp, eng.coloured({first: RED})[0])
    for nid in (first, cont):
        px = _pixels_in(img, eng, nid)
        assert sum(map(_is_red, px)) > 0.3 * len(px), nid
    page, x, y, w, h = eng.note_bbox(cont)
    assert eng.note_at(page, x + w / 2, y + h / 2) == first


def test_bad_colour_and_bad_input(example):
    _, eng = example
    with pytest.raises(ValueError, match="CSS colour"):
        eng.coloured({eng.note_ids_in_order[0]: '"/><script>'})
    with pytest.raises(EngraveError, match="MusicXML"):
        engrave("")
    with pytest.raises(EngraveError, match="well-formed"):
        engrave("<score-partwise><part")
    with pytest.raises(EngraveError, match="root element"):
        engrave("<html><body/></html>")
    with pytest.raises(EngraveError, match="page"):
        engrave(score_to_musicxml(example_score_path()), page_width_px=10)


def test_note_at_hit_testing(example):
    score, eng = example
    for n in score.notes:
        page, x, y, w, h = eng.note_bbox(n.element_id)
        assert eng.note_at(page, x + w / 2, y + h / 2) == n.element_id
        # just outside the head: found only with a tolerance
        assert eng.note_at(page, x - 30, y + h / 2, tolerance=40) == n.element_id
    assert eng.note_at(0, -5000, -5000, tolerance=50) is None


def test_narrow_page_breaks_into_systems_and_pages(long_score_path):
    score, wide = _engrave_file(long_score_path)
    _check_all_notes(score, wide)
    _, narrow = _engrave_file(long_score_path, page_width_px=1200, page_height_px=900)
    _check_all_notes(score, narrow)
    assert narrow.n_pages >= 2 and wide.n_pages == 1

    def systems(eng):  # distinct staff positions = systems (one staff per system here)
        return {(eng.note_staff_bbox(n)[0], round(eng.note_staff_bbox(n)[2])) for n in eng.note_ids_in_order}

    assert len(systems(narrow)) > len(systems(wide)) >= 2
    # engraved order runs through the pages in order
    pages = [narrow.note_page[n] for n in narrow.note_ids_in_order]
    assert pages == sorted(pages) and set(pages) == set(range(narrow.n_pages))
    assert narrow.notes_on_page(1) and narrow.notes_on_page(0)[0] == narrow.note_ids_in_order[0]
    # the staff box is taller than the head box and contains it
    nid = narrow.note_ids_in_order[5]
    _, x, y, w, h = narrow.note_bbox(nid)
    _, sx, sy, sw, sh = narrow.note_staff_bbox(nid)
    assert sx == x and sw == w and sy <= y and sy + sh >= y + h and sh > 2 * h


def test_engraves_from_any_thread():
    """The window engraves in worker threads, a new one now and then: verovio must find its fonts in
    every thread, not only in the one that imported it."""
    import threading

    text = score_to_musicxml(example_score_path())
    results: list = []

    def run() -> None:
        try:
            results.append(engrave(text).n_pages)
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    for _ in range(3):
        t = threading.Thread(target=run)
        t.start()
        t.join()
    assert results == [1, 1, 1]


EMPTY_TEMPO_WORDS = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1"><part-list><score-part id="P1"><part-name>Bassoon</part-name></score-part>
</part-list><part id="P1"><measure number="1"><attributes><divisions>1</divisions><key><fifths>0</fifths></key>
<time><beats>4</beats><beat-type>4</beat-type></time><clef><sign>F</sign><line>4</line></clef></attributes>
<direction><direction-type><words/></direction-type><sound tempo="94"/></direction>
<note><rest/><duration>3</duration><type>half</type><dot/></note>
<note><pitch><step>C</step><octave>3</octave></pitch><duration>1</duration><type>quarter</type></note>
</measure><measure number="2"><direction placement="above"><direction-type><words>dolce</words></direction-type>
</direction><note><pitch><step>D</step><octave>3</octave></pitch><duration>4</duration><type>whole</type></note>
</measure></part></score-partwise>"""


def test_an_empty_tempo_mark_engraves():
    """A MIDI file's tempo becomes a direction with empty words (music21, the Bach10 chorales' lower
    parts); verovio draws it as an empty <text/>, which the Qt clean-up once paired with the next
    text's end tag, leaving SVG that no XML parser reads."""
    eng = engrave(EMPTY_TEMPO_WORDS)
    assert len(eng.note_ids_in_order) == 2
    assert not re.search(r"<text\b[^>]*/>", eng.pages[0])   # the empty mark is gone (it draws nothing)
    assert "dolce" in eng.pages[0]


def test_note_names_under_sixteenth_notes_do_not_run_into_each_other(qapp):
    """Verovio spaces the notes for their lyrics (the lab's note names) with Times' widths. QSvgRenderer
    read the page's "Times, serif" as one family name no font has and drew DejaVu Sans, 17% wider:
    "Bb4" under a quarter note ran into the next name and a bar of sixteenths read "G4Bb4F4G4G4E4"
    (docs/screenshots/melody_lab.png, 2026-12-07). The page Qt gets names one family, and Times is a
    font with Times' widths (Liberation Serif, set up by packaging/setup.sh), so every name stays
    clear of the next."""
    from dataclasses import replace

    from PySide6.QtGui import QFont, QFontMetricsF

    from musicdesk.melody.io import load_melody
    from musicdesk.melody.notation import engrave_melody
    from musicdesk.melody.tokens import Note

    mel = load_melody(example_score_path(), 0)
    busy = [Note(67 + (k % 3) * 2, 6 + 0.25 * k, 0.25) for k in range(12)]   # bar 2 in sixteenths
    mel = replace(mel, notes=tuple(sorted([n for n in mel.notes if not 6 <= n.onset_beats < 9] + busy,
                                          key=lambda n: n.onset_beats)))
    svg = engrave_melody(mel, names=True).engraving.pages[0]
    family = re.search(r'class="definition-scale"[^>]*font-family="([^"]*)"', svg).group(1)
    syl = [(float(x), float(y), float(size), text) for x, y, size, text in re.findall(
        r'class="syl">\s*<text x="([\d.]+)" y="([\d.]+)" font-size="([\d.]+)px"><tspan[^>]*>([^<]*)</tspan>', svg)]
    assert len(syl) == len(mel.notes)
    assert "," not in family, family          # as QSvgRenderer reads it: one family name
    font = QFont(family)
    font.setPixelSize(int(syl[0][2]))
    metrics = QFontMetricsF(font)
    tight = [(a[3], b[3], round(b[0] - a[0] - metrics.horizontalAdvance(a[3])))
             for a, b in zip(syl, syl[1:]) if a[1] == b[1] and b[0] - a[0] < metrics.horizontalAdvance(a[3]) + 50]
    assert not tight, (QFontMetricsF(font).horizontalAdvance("Bb4"), tight)
