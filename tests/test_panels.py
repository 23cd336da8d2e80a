"""Each panel of the window on its own (pytest-qt, offscreen): a bare QMainWindow and a Session, no
MainWindow, so that every panel keeps working as the window is assembled differently."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QMainWindow  # noqa: E402

from musicdesk.app.help import colours_html, shortcuts_html  # noqa: E402
from musicdesk.app.piano_roll import PianoRoll  # noqa: E402
from musicdesk.app.problems_panel import ALL_RIGHT, ResultsPanel  # noqa: E402
from musicdesk.app.score_nav import ScoreNavigator, load_for_window  # noqa: E402
from musicdesk.app.score_view import ScoreView  # noqa: E402
from musicdesk.app.session import Session, device_index  # noqa: E402
from musicdesk.app.settings import AppSettings  # noqa: E402
from musicdesk.app.takes import TakeController  # noqa: E402
from musicdesk.app import workers  # noqa: E402
from musicdesk.app.transport import Transport  # noqa: E402
from musicdesk.audio import save_take  # noqa: E402
from musicdesk.score import example_score_path, load_score  # noqa: E402
from musicdesk.simulate import Errors, perform  # noqa: E402
from musicdesk.synth import render_notes  # noqa: E402

ORG = "musicdesk-tests"


@pytest.fixture
def host(qtbot, tmp_path):
    """A bare window, its session, and the two shared views."""
    w = QMainWindow()
    qtbot.addWidget(w)
    s = Session(w, AppSettings(count_in_beats=0, takes_dir=str(tmp_path)), ORG)
    return w, s, ScoreView(), PianoRoll()


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """The example score, a take of it with a wrong note (index 8), and its analysis (no network)."""
    from musicdesk.analysis import analyze

    score = load_score(example_score_path())
    notes, _ = perform(score.notes, Errors(wrong_midi={8: score.notes[8].midi + 3}))
    path = tmp_path_factory.mktemp("takes") / "take.wav"
    take = render_notes(notes, "flute")
    save_take(take, path)
    return score, str(path), analyze(score, take, assess_model=None)


def test_session_keeps_and_shows_the_last_error_and_reports_failed_tasks(host, qtbot):
    w, s, *_ = host
    s.error("Title", "Something went wrong; do this.")
    assert s.last_error == "Something went wrong; do this." == w.statusBar().currentMessage()

    def boom():
        raise FileNotFoundError("no such file: x.wav")

    got = []
    s.last_error = None
    s.run(workers.Task(boom, user_errors=(FileNotFoundError,)), got.append, "Cannot open")
    qtbot.waitUntil(lambda: s.last_error is not None, timeout=10000)
    assert got == [] and "no such file" in s.last_error and not s.tasks
    assert device_index("") is None and device_index("no device of this name") is None


def test_score_navigator_opens_a_score_loops_bars_and_places_the_cursor(host, qtbot):
    w, s, view, roll = host
    nav = ScoreNavigator(s, view, roll)
    order = []
    nav.score_changed.connect(lambda: order.append("changed"))
    nav.shown.connect(lambda: order.append("shown"))
    assert nav.tempo_spin.text() == "–" and not nav.loop_check.isEnabled()
    with qtbot.waitSignal(nav.shown, timeout=60000):
        nav.open_score(example_score_path())
    assert order == ["changed", "shown"] and s.score is not None and len(roll.notes()) == len(s.score.notes)
    last = max(n.measure for n in s.score.notes)
    assert nav.loop_bars() == (1, last) and nav.tempo_spin.value() == 100 and nav.loop_check.isEnabled()
    nav.loop_from.setValue(3)
    nav.loop_to.setValue(2)
    nav.loop_check.setChecked(True)
    assert nav.loop_bars() == (2, 3) and view._loop == (2, 3)
    n = s.score.notes[5]
    nav.cursor_at_score_time(n.onset_s + 0.01)
    assert nav.cursor_id == n.element_id
    assert nav.practice_part() == (s.loaded.path, 0)


def test_results_panel_draws_an_analysis_and_a_selected_note_asks_to_play_it(host, qtbot, judged):
    w, s, view, roll = host
    score, _path, analysis = judged
    s.score = score
    panel = ResultsPanel(s, view, roll)
    with qtbot.waitSignal(panel.shown, timeout=5000):
        panel.show_analysis(analysis)
    assert s.analysis is analysis and panel.categories[score.notes[8].id] == "wrong_pitch"
    assert panel.problem_list.count() >= 1 and panel.problem_list.item(0).text() != ALL_RIGHT
    cursor, stretch = [], []
    panel.cursor_note.connect(cursor.append)
    panel.play_stretch.connect(lambda a, b: stretch.append((a, b)))
    panel.select_note(score.notes[8].id)
    r = analysis.report.notes[8]
    assert cursor == [score.notes[8].element_id] and stretch == [(r.onset_s, r.offset_s)]
    assert "wrong note" in panel.details.text()
    panel.clear()
    assert s.analysis is None and panel.problem_list.count() == 0 and panel.details.text() == ""


def test_transport_plays_the_loops_bars_at_the_chosen_speed_and_never_while_recording(host, qtbot, judged):
    from musicdesk.playback import measure_span_s

    w, s, view, roll = host
    score, _path, analysis = judged
    s.score = score
    nav = ScoreNavigator(s, view, roll)
    t = Transport(s, nav, roll)
    t.speed_combo.setCurrentIndex(t.speed_combo.findData(0.5))
    assert t.speed == 0.5
    audio, span = t._prepare("reference", 0.5, (2, 3))
    a, b = measure_span_s(score, 2, 3)
    assert span == pytest.approx((a / 0.5, b / 0.5))
    assert len(audio.samples) / audio.sr > 1.9 * score.duration_s          # rendered at half speed
    s.recorder = object()
    t.play("reference")
    assert s.player is None and not s.tasks
    s.update()
    assert not t.act_play_ref.isEnabled()


def test_take_controller_opens_judges_and_drops_takes_and_saves_them(host, qtbot, judged, tmp_path):
    w, s, view, roll = host
    score, path, _analysis = judged
    nav = ScoreNavigator(s, view, roll)
    with qtbot.waitSignal(nav.shown, timeout=60000):
        nav.open_score(example_score_path())
    results = ResultsPanel(s, view, roll)
    takes = TakeController(s, nav, results, Transport(s, nav, roll), roll)
    with qtbot.waitSignal(results.shown, timeout=120000):
        takes.open_take(path)
    assert s.take is not None and s.take_path == path and takes.act_save_take.isEnabled()
    out = tmp_path / "copy.flac"
    assert takes.save_take(str(out)) and out.exists()
    assert not takes.save_take(str(tmp_path / "no" / "such" / "dir" / "x.flac"))
    assert "another folder" in s.last_error
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    s.last_error = None
    takes.open_take(str(bad))
    qtbot.waitUntil(lambda: s.last_error is not None, timeout=30000)
    assert s.take is None and s.analysis is None and results.problem_list.count() == 0
    assert Path(takes.new_take_path()).parent == tmp_path / "takes"


def test_help_pages_list_every_shortcut_and_every_colour(host):
    from musicdesk.app.colours import CATEGORY_LABELS

    w, s, view, roll = host
    nav = ScoreNavigator(s, view, roll)
    page = shortcuts_html([nav.act_open, *nav.view_actions])
    assert "Ctrl+O" in page and "Open score" in page and "PgDown" in page
    colours = colours_html()
    assert all(label in colours for label in CATEGORY_LABELS.values())
    assert "one melodic line" in colours


def test_load_for_window_gives_the_parts_and_an_engraving():
    loaded = load_for_window(example_score_path(), None, None)
    assert loaded.parts and loaded.engraving is not None and loaded.score.notes


def _overlap(a, b) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def test_roll_labels_measured_before_the_first_paint_do_not_overlap_once_painted(qtbot):
    """The Bach10 02 violin screenshot showed "-90ms" over "+70ms": the labels were measured before the
    roll was painted, when pyqtgraph had not yet sized them to the view. Decluttered at once, before any
    paint, the labels on show still do not overlap once painted."""
    from musicdesk.app.roll_note import RollNote

    roll = PianoRoll()
    roll.resize(1000, 300)
    qtbot.addWidget(roll)
    roll.show()
    qtbot.waitExposed(roll)
    notes = [RollNote(f"n{i}", 0.6 * i, 0.6 * i + 0.5, 62 + (i % 2), "correct", f"{'-+'[i % 2]}{60 + i}ms")
             for i in range(60)]
    roll.set_notes(notes)
    roll.show_range(0.0, 40.0)
    roll.declutter_labels()          # at once: the timer can fire before the first paint
    roll.grab()                      # a paint, which sizes every label on show to the view
    shown = roll.shown_labels()
    assert 3 <= len(shown) < 60
    assert not any(_overlap(a[1], b[1]) for i, a in enumerate(shown) for b in shown[i + 1:])


def test_roll_labels_never_overlap_and_come_back_when_zoomed_in(qtbot):
    """Issue 16, 10: the roll's cents and ms labels overlapped until none could be read. At any zoom,
    the labels on show do not overlap; a wrong note's label wins over a timing one; zoomed in, every
    label of the notes on screen is back."""
    from musicdesk.app.roll_note import RollNote

    roll = PianoRoll()
    roll.resize(900, 300)
    qtbot.addWidget(roll)
    roll.show()
    qtbot.waitExposed(roll)
    cats = ["correct", "out_of_tune", "wrong_pitch"]
    notes = [RollNote(f"n{i}", 0.25 * i, 0.25 * i + 0.22, 62 + (i % 3), cats[i % 3],
                      {"correct": "+80ms", "out_of_tune": "+31c", "wrong_pitch": "+212c -70ms"}[cats[i % 3]])
             for i in range(80)]
    roll.set_notes(notes)
    roll.show_range(0.0, 20.0)
    qtbot.wait(150)
    shown = roll.shown_labels()
    assert 5 <= len(shown) < 80
    assert not any(_overlap(a[1], b[1]) for i, a in enumerate(shown) for b in shown[i + 1:])
    wrong = "+212c -70ms"
    rect = lambda t: (lambda r: (r.left(), r.top(), r.right(), r.bottom()))(t.mapRectToScene(t.boundingRect()))  # noqa: E731
    shown_wrong = [r for t, r in shown if t == wrong]
    for t in roll._labels:                      # a wrong note's label gives way only to another one's
        if t.textItem.toPlainText() == wrong and not t.isVisible():
            assert any(_overlap(rect(t), r) for r in shown_wrong)
    roll.show_range(0.0, 1.5)
    qtbot.wait(150)
    on_screen = {t for t, _ in roll.shown_labels()}
    assert {"+80ms", "+31c", "+212c -70ms"} <= on_screen
    assert len([n for n in notes if n.start_s <= 1.2]) <= len(roll.shown_labels())
