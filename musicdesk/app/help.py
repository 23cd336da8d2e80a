"""The Help menu: keyboard shortcuts (read from the window's own actions, so the list cannot drift from
them), what each colour, mark and rating means, what musicdesk listens to, and About."""
from __future__ import annotations

import html

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMenu, QTextBrowser, QVBoxLayout, QWidget

from musicdesk.app.colours import CATEGORY_COLOURS, CATEGORY_LABELS, TIMING_GLYPHS
from musicdesk.app.results_panel import CRITERIA, NETWORK_HELP, RULE_HELP

COLOUR_HELP = {
    "correct": "played at the score's pitch, within the pitch tolerance (Settings).",
    "wrong_pitch": "another pitch than the score's; the details say which one you played.",
    "out_of_tune": "the right note, but further from the reference pitch than the intonation tolerance.",
    "missed": "no note found where the score has one (on the piano roll: an empty grey outline).",
    "early": "the onset came before your own pulse by more than the timing tolerance (a mark above the "
             "note; the note keeps its pitch colour).",
    "late": "the onset came after your own pulse (a mark above the note).",
    "extra": "a note you played that the score does not have (a mark after the note before it).",
}

LISTENS_TO = ("musicdesk follows one melodic line: the part chosen in the toolbar, played by one instrument or "
              "sung. For a piano or other chords, choose the line you play (for example the right hand's "
              "melody); the other notes of a chord are not judged.")


def shortcuts_html(actions: list[QAction]) -> str:
    """A table of each action that has a shortcut: shortcut, what it does."""
    rows = []
    for a in actions:
        seq = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if seq:
            name = a.text().replace("&", "").replace("…", "").strip("▶●■ ").strip()
            rows.append(f"<tr><td><b>{html.escape(seq)}</b></td><td>{html.escape(name)}</td></tr>")
    return "<h3>Keyboard shortcuts</h3><table cellspacing=6>" + "".join(rows) + "</table>"


def colours_html() -> str:
    """What each colour and mark on the score and piano roll means, and what each rating measures."""
    rows = []
    for cat, text in COLOUR_HELP.items():
        glyph = TIMING_GLYPHS.get(cat, "+" if cat == "extra" else "■")
        rows.append(f"<tr><td><span style='color:{CATEGORY_COLOURS[cat]}; font-size:16px'>{glyph}</span></td>"
                    f"<td><b>{html.escape(CATEGORY_LABELS[cat])}</b>: {html.escape(text)}</td></tr>")
    ratings = "".join(f"<li><b>{label}</b>: {html.escape(RULE_HELP[key])}</li>" for key, label in CRITERIA)
    return ("<h3>Colours and marks</h3><table cellspacing=4>" + "".join(rows) + "</table>"
            "<h3>Ratings (report)</h3><p>From 0 to 1, computed from the per-note report:</p><ul>" + ratings +
            "</ul><h3>Ratings (network)</h3><p>" + html.escape(NETWORK_HELP) + "</p>"
            "<h3>What musicdesk listens to</h3><p>" + html.escape(LISTENS_TO) + "</p>")


def about_html() -> str:
    from musicdesk import __version__

    return (f"<h3>musicdesk {html.escape(str(__version__))}</h3><p>A practice studio: record a take against a "
            "score and see every note judged, vary a melody in the melody lab.</p><p>Everything runs on this "
            "computer; takes stay in your own folder (Settings).</p>")


class HelpDialog(QDialog):
    """A non-modal page of help text."""

    def __init__(self, title: str, body_html: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(560, 620)
        lay = QVBoxLayout(self)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.text.setHtml(body_html)
        lay.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)


def add_help_menu(menu: QMenu, window, actions) -> dict[str, QAction]:
    """Fill the Help menu; `actions()` gives the window's actions when the page opens. Each page is one
    dialog, made on first use and shown again (refreshed) after; the one on show is `window.help_dialog`.
    Returns the menu's actions by name (tests and screenshots trigger them)."""
    dialogs: dict[str, HelpDialog] = {}

    def show(key: str, title: str, make) -> None:
        dlg = dialogs.get(key)
        if dlg is None:
            dlg = dialogs[key] = HelpDialog(title, make(), window)
        else:
            dlg.text.setHtml(make())
        window.help_dialog = dlg
        dlg.show()
        dlg.raise_()

    out = {}
    for key, text, title, make, seq in (
            ("shortcuts", "Keyboard shortcuts", "Keyboard shortcuts", lambda: shortcuts_html(actions()), "F1"),
            ("colours", "Colours and ratings", "What the colours and ratings mean", colours_html, None),
            ("about", "About musicdesk", "About musicdesk", about_html, None)):
        a = QAction(text, window)
        if seq:
            a.setShortcut(QKeySequence(seq))
        a.triggered.connect(lambda _=False, k=key, t=title, m=make: show(k, t, m))
        menu.addAction(a)
        out[key] = a
    return out
