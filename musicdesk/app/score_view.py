"""The engraved score in the window: one page of an `Engraving`, with colours, a note cursor, zoom and
page navigation, and clicks on notes.

Drawing: a QGraphicsScene in the page's pixel coordinates (the SVG's default size) holding a
QGraphicsSvgItem for the page, a translucent cursor bar and loop-range boxes. Each page's parsed
QSvgRenderer is cached until the colours change; the item caches its raster per zoom
(DeviceCoordinateCache), so scrolling and cursor moves do not re-render the score.
Note geometry comes from the engraving (SVG user units), scaled by `Engraving.px_per_unit`.
"""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QTransform
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtSvgWidgets import QGraphicsSvgItem
from PySide6.QtWidgets import (QGraphicsItem, QGraphicsRectItem, QGraphicsScene, QGraphicsSimpleTextItem,
                               QGraphicsView, QHBoxLayout,
                               QLabel, QToolButton, QVBoxLayout, QWidget)

from musicdesk.app.colours import CATEGORY_COLOURS, COMMENT_COLOUR, COMMENT_GLYPH, TIMING_GLYPHS

ZOOM_STEP = 1.25
ZOOM_MIN, ZOOM_MAX = 0.1, 10.0
FIT_MARGIN_PX = 6
CLICK_TOLERANCE_PX = 6.0          # a click this close (screen pixels) to a note head selects it
LINE_MARGIN_PX = 30.0             # space kept above a line scrolled to the top (page pixels)
CURSOR_COLOUR = QColor(30, 144, 255, 70)
LOOP_COLOUR = QColor(255, 200, 0, 45)
COMMENT_BARS_ALPHA = 34           # a comment's bars: the comment colour, this opaque (of 255)


class _PageView(QGraphicsView):
    """QGraphicsView that reports Ctrl+wheel, left clicks (scene position) and resizes."""

    wheel_zoom = Signal(int)            # +1 in, -1 out
    clicked = Signal(QPointF)
    resized = Signal()

    def wheelEvent(self, event) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            dy = event.angleDelta().y()
            if dy:
                self.wheel_zoom.emit(1 if dy > 0 else -1)
            event.accept()
            return
        super().wheelEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.mapToScene(event.position().toPoint()))
        super().mousePressEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.resized.emit()


class ScoreView(QWidget):
    """One page of an engraved score with colours, a cursor on a note, zoom and page navigation.

    Emits `note_clicked(element_id)` when the user clicks on or next to a note head.
    """

    note_clicked = Signal(str)
    page_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._eng = None
        self._page = 0
        self._zoom = 1.0
        self._fit = True
        self._colours: dict[str, str] = {}
        self._coloured_pages: tuple[str, ...] | None = None
        self._renderers: dict[int, QSvgRenderer] = {}
        self._cursor_id: str | None = None
        self._loop: tuple[int, int] | None = None
        self._marks: dict[str, str] = {}
        self._timing_marks: dict[str, str] = {}
        self._comment_marks: dict[str, str] = {}
        self._comment_bars: list[tuple[int, int, str]] = []

        self.scene = QGraphicsScene(self)
        self.view = _PageView(self.scene, self)
        self.view.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.view.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.view.setBackgroundBrush(QBrush(QColor(235, 235, 235)))
        self.view.wheel_zoom.connect(lambda d: self.zoom_in() if d > 0 else self.zoom_out())
        self.view.clicked.connect(self._on_click)
        self.view.resized.connect(self._on_resize)

        self._empty_renderer = QSvgRenderer(self)
        self.paper_item = QGraphicsRectItem()     # the white sheet under the page
        self.paper_item.setBrush(QBrush(QColor("white")))
        self.paper_item.setPen(QPen(QColor(200, 200, 200)))
        self.paper_item.setZValue(-1)
        self.paper_item.hide()
        self.scene.addItem(self.paper_item)
        self.page_item = QGraphicsSvgItem()
        self.page_item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.page_item.setZValue(0)
        self.scene.addItem(self.page_item)
        self.cursor_item = QGraphicsRectItem()
        self.cursor_item.setBrush(QBrush(CURSOR_COLOUR))
        self.cursor_item.setPen(QPen(Qt.PenStyle.NoPen))
        self.cursor_item.setZValue(2)
        self.cursor_item.hide()
        self.scene.addItem(self.cursor_item)
        self._loop_items: list[QGraphicsRectItem] = []
        self._mark_items: list[QGraphicsSimpleTextItem] = []
        self._comment_bar_items: list[QGraphicsRectItem] = []
        self._placeholder = self.scene.addText("No score loaded: open one with File > Open, or drop a file here.")
        self._placeholder.setDefaultTextColor(QColor(110, 110, 110))

        def button(text: str, tip: str, slot) -> QToolButton:
            b = QToolButton(self)
            b.setText(text)
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            return b

        self.prev_button = button("\u25c0", "Previous page (PgUp)", self.prev_page)
        self.next_button = button("\u25b6", "Next page (PgDown)", self.next_page)
        self.page_label = QLabel("", self)
        self.zoom_out_button = button("\u2212", "Zoom out (Ctrl+wheel down)", self.zoom_out)
        self.zoom_in_button = button("+", "Zoom in (Ctrl+wheel up)", self.zoom_in)
        self.fit_button = button("Fit width", "Zoom to fit the page width", self.fit_width)
        self.zoom_label = QLabel("", self)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        for w in (self.prev_button, self.page_label, self.next_button):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.zoom_out_button, self.zoom_label, self.zoom_in_button, self.fit_button):
            bar.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(bar)
        lay.addWidget(self.view, 1)
        self._update_controls()

    # ------------------------------------------------------------------ public API
    def set_engraving(self, eng) -> None:
        """Show an `Engraving` (None clears), from its first page, fitted to the width, uncoloured."""
        self._eng = eng
        self._colours = {}
        self._coloured_pages = None
        old = self._take_renderers()
        self._cursor_id = None
        self._loop = None
        self._marks = {}
        self._timing_marks = {}
        self._comment_marks = {}
        self._comment_bars = []
        self.cursor_item.hide()
        self._placeholder.setVisible(eng is None)
        self.page_item.setVisible(eng is not None)
        self.paper_item.setVisible(eng is not None)
        self._page = -1
        self._fit = True
        if eng is None:
            self.page_item.setSharedRenderer(self._empty_renderer)
            self.scene.setSceneRect(self._placeholder.boundingRect())
            self._update_controls()
        else:
            self.show_page(0)
        self._dispose(old)

    def engraving(self):
        return self._eng

    def set_colours(self, colours: dict[str, str]) -> None:
        """Colour notes (element id -> CSS colour); an empty dict restores black. No re-layout."""
        self._colours = dict(colours)
        self._coloured_pages = None
        old = self._take_renderers()
        if self._eng is not None:
            self._load_page(self._page)
        self._dispose(old)

    def colours(self) -> dict[str, str]:
        """The colours now applied (element id -> CSS colour)."""
        return dict(self._colours)

    def page_count(self) -> int:
        return self._eng.n_pages if self._eng is not None else 0

    def current_page(self) -> int:
        return self._page if self._eng is not None else -1

    def show_page(self, i: int) -> None:
        """Show page i (0-based, clamped to the engraving's pages)."""
        if self._eng is None:
            return
        i = max(0, min(int(i), self._eng.n_pages - 1))
        if i == self._page:
            return
        self._page = i
        self._load_page(i)
        self.view.verticalScrollBar().setValue(self.view.verticalScrollBar().minimum())
        self.page_changed.emit(i)

    def next_page(self) -> None:
        self.show_page(self._page + 1)

    def prev_page(self) -> None:
        self.show_page(self._page - 1)

    def line_tops(self) -> list[float]:
        """Top of each line (system) on the current page, in scene (page pixel) coordinates."""
        if self._eng is None or self._page < 0:
            return []
        k = self._eng.px_per_unit(self._page)
        tops: list[float] = []
        for num in self._eng.measure_numbers():
            page, _, y, _, h = self._eng.measure_bbox(num)
            if page == self._page and not any(abs(y - t) < 0.5 * h for t in tops):
                tops.append(y)
        return sorted(k * t for t in tops)

    def view_top(self) -> float:
        """The scene y at the top edge of the view."""
        return self.view.mapToScene(0, 0).y()

    def next_line(self) -> None:
        """Scroll so the next line of music is at the top; past the last line, the next page."""
        top = self.view_top()
        below = [t for t in self.line_tops() if t - LINE_MARGIN_PX > top + 1.0]
        if below:
            self._scroll_to_line(below[0])
        elif self._page < self.page_count() - 1:
            self.next_page()

    def prev_line(self) -> None:
        """Scroll so the previous line is at the top; before the first line, the end of the previous page."""
        top = self.view_top()
        above = [t for t in self.line_tops() if t - LINE_MARGIN_PX < top - 1.0]
        if above:
            self._scroll_to_line(above[-1])
        elif self._page > 0:
            self.prev_page()
            sb = self.view.verticalScrollBar()
            sb.setValue(sb.maximum())

    def _scroll_to_line(self, y: float) -> None:
        sb = self.view.verticalScrollBar()
        sb.setValue(sb.value() + int(round((y - LINE_MARGIN_PX - self.view_top()) * self._zoom)))

    def zoom(self) -> float:
        """View scale: screen pixels per page pixel."""
        return self._zoom

    def set_zoom(self, z: float) -> None:
        self._fit = False
        self._apply_zoom(z)

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / ZOOM_STEP)

    def fit_width(self) -> None:
        """Zoom so the page fills the view's width (kept on resize until the user zooms)."""
        self._fit = True
        self._apply_zoom(self._fit_zoom())

    def set_cursor_note(self, element_id: str | None) -> None:
        """Put a translucent bar over that note (its staff's height), turning to its page if needed.
        None or an id that is not engraved hides the cursor."""
        self._cursor_id = element_id
        if self._eng is None or element_id is None or element_id not in self._eng.note_page:
            self.cursor_item.hide()
            return
        page = self._eng.note_page[element_id]
        if page != self._page:
            self.show_page(page)
        self._place_cursor()
        if self.cursor_item.isVisible():
            self.view.ensureVisible(self.cursor_item.rect(), 30, 30)

    def cursor_note(self) -> str | None:
        return self._cursor_id if self.cursor_item.isVisible() else None

    def set_loop_measures(self, first: int | None, last: int | None = None) -> None:
        """Shade measures first..last (printed numbers) on the pages showing them; None clears."""
        self._loop = None if first is None else (int(first), int(last if last is not None else first))
        self._place_loop()

    def set_marks(self, marks: dict[str, str]) -> None:
        """Put a "+" in a colour just after each note (element id -> CSS colour): where a note that is
        not in the score was played (an extra note). An empty dict removes them."""
        self._marks = dict(marks)
        self._place_marks()

    def set_timing_marks(self, marks: dict[str, str]) -> None:
        """Put a small arrow above each note whose onset was off the player's pulse (element id ->
        "early" or "late"), leaving the note's own colour (its pitch) as it is. {} removes them."""
        self._timing_marks = {k: v for k, v in marks.items() if v in TIMING_GLYPHS}
        self._place_marks()

    def set_comment_marks(self, marks: dict[str, str]) -> None:
        """Put a pen below each note a comment is pinned to (element id -> the comments' text, shown as
        its tooltip). {} removes them."""
        self._comment_marks = {k: v for k, v in marks.items() if v}
        self._place_marks()

    def set_comment_bars(self, spans: list[tuple[int, int, str]]) -> None:
        """Shade the bars each comment on bars is about, in the comment colour, with its text as the
        tooltip: (first, last printed bar number, text) per comment. [] removes them."""
        self._comment_bars = [(int(a), int(b), t) for a, b, t in spans]
        self._place_marks()

    def comment_bars(self) -> list[tuple[int, int, str]]:
        """The comments' bar spans now set (first, last, text), on any page."""
        return list(self._comment_bars)

    def comment_marks(self) -> dict[str, str]:
        """The comment marks now set (element id -> text), on any page."""
        return dict(self._comment_marks)

    def timing_marks(self) -> dict[str, str]:
        """The timing marks now set (element id -> "early" | "late"), on any page."""
        return dict(self._timing_marks)

    def marks(self) -> dict[str, str]:
        """The marks now shown (element id -> CSS colour), on any page."""
        return dict(self._marks)

    def mark_items(self) -> list[QGraphicsSimpleTextItem]:
        """The mark items drawn on the current page (for tests)."""
        return list(self._mark_items)

    def comment_bar_items(self) -> list[QGraphicsRectItem]:
        """The comments' bar shadings drawn on the current page (for tests)."""
        return list(self._comment_bar_items)

    def note_rect(self, element_id: str) -> QRectF:
        """The note head's rectangle in scene coordinates (page pixels) on its page."""
        _, x, y, w, h = self._eng.note_bbox(element_id)
        k = self._eng.px_per_unit(self._eng.note_page[element_id])
        return QRectF(x * k, y * k, w * k, h * k)

    # ------------------------------------------------------------------ internals
    def _take_renderers(self) -> list[QSvgRenderer]:
        old = list(self._renderers.values())
        self._renderers.clear()
        return old

    def _dispose(self, old: list[QSvgRenderer]) -> None:
        """Delete replaced renderers once the item no longer uses them (they are owned by this widget)."""
        current = self.page_item.renderer()
        for r in old:
            if r is not current:
                r.deleteLater()

    def _renderer(self, i: int) -> QSvgRenderer:
        r = self._renderers.get(i)
        if r is None:
            if self._colours and self._coloured_pages is None:
                self._coloured_pages = self._eng.coloured(self._colours)
            svg = (self._coloured_pages or self._eng.pages)[i]
            r = QSvgRenderer(QByteArray(svg.encode("utf-8")), self)
            self._renderers[i] = r
        return r

    def _load_page(self, i: int) -> None:
        r = self._renderer(i)
        self.page_item.setSharedRenderer(r)
        w, h = self._eng.page_sizes_px[i]
        self.page_item.update()
        self.scene.setSceneRect(QRectF(0, 0, w, h))
        self.paper_item.setRect(QRectF(0, 0, w, h))
        if self._fit:
            self._apply_zoom(self._fit_zoom())
        self._place_cursor()
        self._place_loop()
        self._place_marks()
        self._update_controls()

    def _place_cursor(self) -> None:
        nid = self._cursor_id
        if self._eng is None or nid is None or self._eng.note_page.get(nid) != self._page:
            self.cursor_item.hide()
            return
        _, x, y, w, h = self._eng.note_staff_bbox(nid)
        k = self._eng.px_per_unit(self._page)
        pad_x, pad_y = 0.6 * w * k, 0.25 * h * k
        self.cursor_item.setRect(QRectF(x * k - pad_x, y * k - pad_y, w * k + 2 * pad_x, h * k + 2 * pad_y))
        self.cursor_item.show()

    def _place_loop(self) -> None:
        for it in self._loop_items:
            self.scene.removeItem(it)
        self._loop_items = []
        if self._eng is None or self._loop is None:
            return
        for r in self._bar_rects(*self._loop):
            it = QGraphicsRectItem(r)
            it.setBrush(QBrush(LOOP_COLOUR))
            it.setPen(QPen(Qt.PenStyle.NoPen))
            it.setZValue(1)
            self.scene.addItem(it)
            self._loop_items.append(it)

    def _bar_rects(self, first: int, last: int) -> list[QRectF]:
        """Rectangles (page pixels) over the measures first..last (printed numbers) on the page on show,
        from a little above the staff to a little below it."""
        k = self._eng.px_per_unit(self._page)
        out = []
        for num in self._eng.measure_numbers():
            try:
                n = int(num)
            except ValueError:
                continue
            if not first <= n <= last:
                continue
            page, x, y, w, h = self._eng.measure_bbox(num)
            if page == self._page:
                out.append(QRectF(x * k, (y - 0.3 * h) * k, w * k, 1.6 * h * k))
        return out

    def _place_marks(self) -> None:
        for it in self._mark_items + self._comment_bar_items:
            self.scene.removeItem(it)
        self._mark_items, self._comment_bar_items = [], []
        if self._eng is None:
            return
        for nid, colour in self._marks.items():
            if self._eng.note_page.get(nid) != self._page:
                continue
            r = self.note_rect(nid)
            it = QGraphicsSimpleTextItem("+")
            font = QFont()
            font.setBold(True)
            font.setPixelSize(max(8, int(round(2.2 * r.height()))))
            it.setFont(font)
            it.setBrush(QBrush(QColor(colour)))
            it.setToolTip("An extra note was played here (not in the score)")
            br = it.boundingRect()
            it.setPos(r.right() + 0.3 * r.width(), r.center().y() - br.height() / 2)
            it.setZValue(3)
            self.scene.addItem(it)
            self._mark_items.append(it)
        for nid, kind in self._timing_marks.items():
            if self._eng.note_page.get(nid) != self._page:
                continue
            r = self.note_rect(nid)
            it = QGraphicsSimpleTextItem(TIMING_GLYPHS[kind])
            font = QFont()
            font.setBold(True)
            font.setPixelSize(max(8, int(round(2.0 * r.height()))))
            it.setFont(font)
            it.setBrush(QBrush(QColor(CATEGORY_COLOURS[kind])))
            it.setToolTip(f"Played {kind} against your own pulse")
            br = it.boundingRect()
            it.setPos(r.center().x() - br.width() / 2, r.top() - 1.1 * br.height())
            it.setZValue(3)
            self.scene.addItem(it)
            self._mark_items.append(it)

        bars_colour = QColor(COMMENT_COLOUR)
        bars_colour.setAlpha(COMMENT_BARS_ALPHA)
        for first, last, text in self._comment_bars:
            for r in self._bar_rects(first, last):
                it = QGraphicsRectItem(r)
                it.setBrush(QBrush(bars_colour))
                it.setPen(QPen(QColor(COMMENT_COLOUR), 0, Qt.PenStyle.DotLine))
                it.setToolTip(text)
                it.setZValue(1)
                self.scene.addItem(it)
                self._comment_bar_items.append(it)
        for nid, text in self._comment_marks.items():
            if self._eng.note_page.get(nid) != self._page:
                continue
            r = self.note_rect(nid)
            it = QGraphicsSimpleTextItem(COMMENT_GLYPH)
            font = QFont()
            font.setBold(True)
            font.setPixelSize(max(9, int(round(2.4 * r.height()))))
            it.setFont(font)
            it.setBrush(QBrush(QColor(COMMENT_COLOUR)))
            it.setToolTip(text)
            br = it.boundingRect()
            it.setPos(r.center().x() - br.width() / 2, r.bottom() + 0.6 * br.height())
            it.setZValue(3)
            self.scene.addItem(it)
            self._mark_items.append(it)

    def _fit_zoom(self) -> float:
        if self._eng is None or self._page < 0:
            return 1.0
        w = self._eng.page_sizes_px[self._page][0]
        # room for a vertical scroll bar is always kept, so showing one never needs a horizontal one
        avail = (self.view.width() - 2 * self.view.frameWidth()
                 - self.view.verticalScrollBar().sizeHint().width() - FIT_MARGIN_PX)
        return max(ZOOM_MIN, min(ZOOM_MAX, avail / w)) if w > 0 and avail > 0 else 1.0

    def _apply_zoom(self, z: float) -> None:
        z = max(ZOOM_MIN, min(ZOOM_MAX, float(z)))
        if abs(z - self._zoom) > 1e-9 or abs(self.view.transform().m11() - z) > 1e-9:
            self._zoom = z
            self.view.setTransform(QTransform.fromScale(z, z))
        self._update_controls()

    def _on_resize(self) -> None:
        if self._fit and self._eng is not None:
            self._apply_zoom(self._fit_zoom())

    def _on_click(self, pos: QPointF) -> None:
        if self._eng is None or self._page < 0:
            return
        k = self._eng.px_per_unit(self._page)
        tol_units = CLICK_TOLERANCE_PX / (self._zoom * k)
        nid = self._eng.note_at(self._page, pos.x() / k, pos.y() / k, tolerance=tol_units)
        if nid is not None:
            self.note_clicked.emit(nid)

    def _update_controls(self) -> None:
        n = self.page_count()
        has = n > 0
        self.page_label.setText(f"page {self._page + 1} of {n}" if has else "")
        self.prev_button.setEnabled(has and self._page > 0)
        self.next_button.setEnabled(has and self._page < n - 1)
        for b in (self.zoom_in_button, self.zoom_out_button, self.fit_button):
            b.setEnabled(has)
        self.zoom_label.setText(f"{self._zoom * 100:.0f}%" if has else "")
