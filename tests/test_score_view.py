"""musicdesk.app.score_view.ScoreView on the offscreen platform: drawing, pages, cursor, clicks, zoom."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6.QtSvgWidgets")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from musicdesk.app.score_view import ZOOM_STEP, ScoreView  # noqa: E402
from musicdesk.engrave import engrave  # noqa: E402
from musicdesk.score import example_score_path, load_score, score_to_musicxml  # noqa: E402


@pytest.fixture(scope="module")
def example():
    path = example_score_path()
    score = load_score(path)
    return score, engrave(score_to_musicxml(path, part=score.part))


@pytest.fixture(scope="module")
def long_eng(tmp_path_factory):
    """A reel from music21's corpus on small pages: two pages."""
    from music21 import corpus

    path = tmp_path_factory.mktemp("long") / "acacia.musicxml"
    corpus.parse("ryansMammoth/AcaciaReel").write("musicxml", fp=str(path))
    score = load_score(path)
    eng = engrave(score_to_musicxml(path, part=score.part), page_width_px=1200, page_height_px=900)
    assert eng.n_pages >= 2
    return score, eng


@pytest.fixture
def view(qtbot):
    v = ScoreView()
    qtbot.addWidget(v)
    v.resize(900, 420)
    v.show()
    qtbot.waitExposed(v)
    return v


def _dark_fraction(img) -> float:
    n = dark = 0
    for x in range(0, img.width(), 3):
        for y in range(0, img.height(), 3):
            n += 1
            dark += img.pixelColor(x, y).lightness() < 100
    return dark / max(n, 1)


def _assert_fits_width(v: ScoreView, eng) -> None:
    page_w = v.zoom() * eng.page_sizes_px[v.current_page()][0]
    sb = v.view.verticalScrollBar().sizeHint().width()
    assert v.view.viewport().width() - sb - 20 <= page_w <= v.view.viewport().width()


def _view_point(v: ScoreView, nid: str) -> QPoint:
    return v.view.mapFromScene(v.note_rect(nid).center())


def test_empty_then_shows_page(view, example):
    score, eng = example
    assert view.page_count() == 0 and not view.next_button.isEnabled()
    view.set_engraving(eng)
    QApplication.processEvents()
    img = view.view.viewport().grab().toImage()
    assert _dark_fraction(img) > 0.01          # staff lines and notes are drawn
    assert view.page_count() == 1 and view.current_page() == 0
    assert "page 1 of 1" in view.page_label.text()
    # fit width: the page fills the viewport's width
    _assert_fits_width(view, eng)
    assert not view.view.horizontalScrollBar().isVisible()
    view.set_engraving(None)
    assert view.page_count() == 0 and view.current_page() == -1


def test_colours_are_drawn(view, example):
    score, eng = example
    view.set_engraving(eng)
    target = score.notes[2].element_id
    view.set_colours({target: "#d62728"})
    assert view.colours() == {target: "#d62728"}
    QApplication.processEvents()
    img = view.view.viewport().grab().toImage()
    dpr = img.devicePixelRatio()

    def reds(nid):
        r = view.view.mapFromScene(view.note_rect(nid)).boundingRect()
        cnt = 0
        for x in range(r.left() + 1, r.right()):
            for y in range(r.top() + 1, r.bottom()):
                c = img.pixelColor(int(x * dpr), int(y * dpr))
                cnt += c.red() > 150 and c.green() < 90 and c.blue() < 90
        return cnt

    assert reds(target) > 10
    assert reds(score.notes[3].element_id) == 0
    view.set_colours({})
    QApplication.processEvents()
    img = view.view.viewport().grab().toImage()
    assert reds(target) == 0


def test_cursor_switches_page(view, long_eng):
    score, eng = long_eng
    view.set_engraving(eng)
    assert view.current_page() == 0
    on_p2 = eng.notes_on_page(1)[3]
    with_signal = []
    view.page_changed.connect(with_signal.append)
    view.set_cursor_note(on_p2)
    assert view.current_page() == 1 and with_signal == [1]
    assert view.cursor_note() == on_p2 and view.cursor_item.isVisible()
    cur = view.cursor_item.rect()
    head = view.note_rect(on_p2)
    assert cur.contains(head) and cur.height() > 2 * head.height()
    # back to a note on page 1; an unknown id hides the cursor
    view.set_cursor_note(eng.notes_on_page(0)[0])
    assert view.current_page() == 0 and view.cursor_item.isVisible()
    view.set_cursor_note("no-such-note")
    assert not view.cursor_item.isVisible() and view.cursor_note() is None


def test_page_buttons(view, long_eng, qtbot):
    _, eng = long_eng
    view.set_engraving(eng)
    assert view.next_button.isEnabled() and not view.prev_button.isEnabled()
    qtbot.mouseClick(view.next_button, Qt.MouseButton.LeftButton)
    assert view.current_page() == 1 and view.prev_button.isEnabled()
    view.next_page()
    view.next_page()  # clamped at the last page
    assert view.current_page() == eng.n_pages - 1
    view.prev_page()
    assert view.current_page() == eng.n_pages - 2


def test_click_on_note_emits_id(view, long_eng, qtbot):
    _, eng = long_eng
    view.set_engraving(eng)
    view.show_page(1)
    nid = eng.notes_on_page(1)[4]
    view.set_zoom(1.5)
    view.view.ensureVisible(view.note_rect(nid), 20, 20)
    QApplication.processEvents()
    with qtbot.waitSignal(view.note_clicked, timeout=2000) as blocker:
        qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=_view_point(view, nid))
    assert blocker.args == [nid]
    # a few pixels beside the head still selects it; far from any note nothing is emitted
    rect = view.view.mapFromScene(view.note_rect(nid)).boundingRect()
    got = []
    view.note_clicked.connect(got.append)
    qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(rect.center().x(), rect.top() - 3))
    assert got == [nid]
    qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(2, 2))
    assert got == [nid]


def test_zoom_changes_scene_scale(view, example):
    _, eng = example
    view.set_engraving(eng)
    z0 = view.view.transform().m11()
    view.zoom_in()
    assert view.view.transform().m11() == pytest.approx(z0 * ZOOM_STEP)
    view.zoom_out()
    view.zoom_out()
    assert view.view.transform().m11() == pytest.approx(z0 / ZOOM_STEP)
    assert view.zoom_label.text() == f"{z0 / ZOOM_STEP * 100:.0f}%"
    # Ctrl+wheel zooms in; a plain wheel scrolls and leaves the scale alone
    vp = view.view.viewport()
    centre = QPointF(vp.width() / 2, vp.height() / 2)

    def wheel(mods):
        ev = QWheelEvent(centre, vp.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120),
                         Qt.MouseButton.NoButton, mods, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(vp, ev)

    wheel(Qt.KeyboardModifier.ControlModifier)
    assert view.view.transform().m11() == pytest.approx(z0)
    wheel(Qt.KeyboardModifier.NoModifier)
    assert view.view.transform().m11() == pytest.approx(z0)
    # fit width follows resizes until the user zooms
    view.fit_width()
    view.resize(600, 420)
    QApplication.processEvents()
    _assert_fits_width(view, eng)
    view.resize(600, 150)       # short: a vertical scroll bar, still no horizontal one
    QApplication.processEvents()
    _assert_fits_width(view, eng)
    assert view.view.verticalScrollBar().isVisible() and not view.view.horizontalScrollBar().isVisible()


def test_loop_measures_shaded(view, example):
    _, eng = example
    view.set_engraving(eng)
    view.set_loop_measures(2, 4)
    assert len(view._loop_items) == 3
    _, x, y, w, h = eng.measure_bbox(3)
    k = eng.px_per_unit(0)
    assert any(it.rect().contains(QPointF((x + w / 2) * k, (y + h / 2) * k)) for it in view._loop_items)
    view.set_loop_measures(None)
    assert view._loop_items == []


def test_extra_note_marks_sit_after_their_note_and_follow_pages(view, long_eng):
    score, eng = long_eng
    view.set_engraving(eng)
    on_p0 = eng.notes_on_page(0)[3]
    on_p1 = eng.notes_on_page(1)[2]
    view.set_marks({on_p0: "#9467bd", on_p1: "#9467bd"})
    items = view.mark_items()
    assert len(items) == 1                             # only the current page's mark is drawn
    r = view.note_rect(on_p0)
    box = items[0].sceneBoundingRect()
    assert box.left() >= r.right() and box.top() < r.center().y() < box.bottom()
    assert items[0].brush().color().name() == "#9467bd"
    img = view.view.grab().toImage()
    p = view.view.mapFromScene(box.center())
    assert any(img.pixelColor(p.x() + dx, p.y() + dy).name() != "#ffffff"
               for dx in range(-3, 4) for dy in range(-3, 4))
    view.show_page(1)
    assert len(view.mark_items()) == 1
    view.set_marks({})
    assert view.mark_items() == [] and view.marks() == {}


def test_line_navigation_scrolls_line_by_line_then_turns_the_page(view, long_eng):
    from musicdesk.app.score_view import LINE_MARGIN_PX

    _, eng = long_eng
    view.set_engraving(eng)
    view.set_zoom(4.0)                                 # the page is taller than the view: scrolling needed
    tops = view.line_tops()
    assert len(tops) >= 3 and tops == sorted(tops)
    sb = view.view.verticalScrollBar()
    sb.setValue(sb.maximum())
    lowest = view.view_top()                           # the view cannot scroll further than this
    sb.setValue(sb.minimum())
    want = [min(t - LINE_MARGIN_PX, lowest) for t in tops]
    assert want[1] > want[0] + 20                      # two reachable, different positions
    start = view.view_top()
    view.next_line()
    assert view.view_top() == pytest.approx(want[0] if want[0] > start + 1 else want[1], abs=2.0)
    view._scroll_to_line(tops[1])
    assert view.view_top() == pytest.approx(want[1], abs=2.0)
    view.prev_line()
    assert view.view_top() == pytest.approx(max(want[0], sb.minimum() / view.zoom()), abs=2.0)
    for _ in range(len(tops) + 2):
        view.next_line()
        if view.current_page() == 1:
            break
    assert view.current_page() == 1 and view.view_top() <= 1.0   # the next page, from its top
    view.prev_line()
    assert view.current_page() == 0 and view.view_top() == pytest.approx(lowest, abs=2.0)
