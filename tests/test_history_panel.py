"""View > History (issue 19): the student's takes of the open piece, opening an old take with its stored
judgement, progress per criterion, the bars-by-takes heatmap, practice time."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from musicdesk.analysis import analyze  # noqa: E402
from musicdesk.app.history_panel import grade_text, heat_rgb  # noqa: E402
from musicdesk.app.main_window import MainWindow  # noqa: E402
from musicdesk.app.settings import AppSettings  # noqa: E402
from musicdesk.audio import load_take, save_take  # noqa: E402
from musicdesk.history.keep import store_for  # noqa: E402
from musicdesk.history.records import analysis_record  # noqa: E402
from musicdesk.history.views import bar_matrix, most_improved_bars, piece_history  # noqa: E402
from musicdesk.score import example_score_path, load_score  # noqa: E402
from musicdesk.simulate import Errors, perform  # noqa: E402
from musicdesk.synth import render_notes  # noqa: E402

from vmic import virtual_microphone  # noqa: E402

ORG = "musicdesk-tests"
WRONG = 8          # the first take plays note 8 wrong; the second plays it right


@pytest.fixture(scope="module")
def two_takes(tmp_path_factory):
    """Two rendered takes of the example: the first with note WRONG a minor third off, the second right;
    with their analyses (no network: quick)."""
    score = load_score(example_score_path())
    folder = tmp_path_factory.mktemp("takes")
    out = []
    for k, errors in enumerate((Errors(wrong_midi={WRONG: score.notes[WRONG].midi + 3}), Errors())):
        notes, _ = perform(score.notes, errors)
        path = folder / f"take{k}.wav"
        save_take(render_notes(notes, "flute"), path)
        out.append((str(path), analyze(score, load_take(str(path)))))
    return score, out


def seed(score, takes, student="Anna"):
    """The two takes in the test's store (MUSICDESK_DB), a week apart; the first graded."""
    store = store_for(None)
    who, piece = store.person(student), store.piece(score.source_path, score.part, score.title)
    t0 = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.timezone.utc)
    ids = [store.save_take(who, piece, path, record=analysis_record(a), recorded_at=t0 + dt.timedelta(days=7 * k))
           for k, (path, a) in enumerate(takes)]
    teacher = store.person("Ms Berg", "teacher")
    store.grade(ids[0], teacher, "pitch", 6, 10)
    store.release_grades(ids[0], teacher)
    store.grade(ids[1], teacher, "pitch", 9, 10)           # a draft: not shown to the student
    return store, ids


@pytest.fixture
def win(qtbot, tmp_path):
    w = MainWindow(settings=AppSettings(count_in_beats=0, takes_dir=str(tmp_path), student_name="Anna",
                                        assess_model="none"), settings_org=ORG)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.score_shown, timeout=60000):
        w.open_score(example_score_path())
    qtbot.waitUntil(lambda: not w.warming, timeout=60000)
    return w


def open_panel(win, qtbot):
    """View > History, once its first refresh is drawn."""
    win.open_history()
    if win.history_panel.history is None:
        with qtbot.waitSignal(win.history_panel.loaded, timeout=30000):
            pass
    return win.history_panel


def test_the_core_views_of_a_piece_history(two_takes):
    score, takes = two_takes
    store, ids = seed(score, takes)
    h = piece_history(store, "Anna", score.source_path, score.part)
    assert [t.id for t in h.takes] == ids and h.practice and h.practice[0][0] == "2026-11-20"
    bars, mat = bar_matrix(h.progress, "right")
    bar = score.notes[WRONG].measure
    i = bars.index(bar)
    assert mat[i, 0] < 1.0 == mat[i, 1]
    assert most_improved_bars(h.progress)[0][0] == bar
    assert piece_history(store, "Nobody", score.source_path, score.part).takes == []
    assert grade_text({"pitch": (6.0, 10.0, "released"), "tone": (7.0, 10.0, "draft")}) == "pitch 6/10"
    assert grade_text({"pitch": (6.0, 10.0, "released"), "tone": (7.0, 10.0, "draft"), "rhythm": (8.0, 10.0, "draft")},
                      released_only=False) == "pitch 6/10; draft: rhythm 8/10, tone 7/10"      # "draft" said once
    assert grade_text({"tone": (7.0, 10.0, "draft")}, released_only=False) == "draft: tone 7/10"
    rgb = heat_rgb(np.array([[1.0, 0.0, np.nan]]), "right")
    assert tuple(rgb[0, 0]) == (44, 160, 44) and tuple(rgb[0, 1]) == (214, 39, 40) and tuple(rgb[0, 2]) == (225, 225, 225)


def test_the_panel_lists_the_takes_and_opens_an_old_one_with_its_stored_judgement(win, qtbot, two_takes):
    score, takes = two_takes
    store, ids = seed(score, takes)
    panel = open_panel(win, qtbot)
    lst = panel.take_list
    assert lst.topLevelItemCount() == 2
    newest, oldest = lst.topLevelItem(0), lst.topLevelItem(1)
    assert newest.data(0, 256) == str(ids[1]) and oldest.text(6) == "pitch 6/10" and newest.text(6) == ""
    assert oldest.text(2) == f"{len(score.notes) - 1}/{len(score.notes)}"
    assert "Anna: 2 takes" in panel.title.text()
    # progress: one point per take per criterion, the released grade as a star
    xs, ys = panel.progress_lines["note_accuracy"].getData()
    assert len(xs) == 2 and ys[1] > ys[0]
    assert len(panel.grade_points.data) == 1
    # the heatmap: bars by 2 takes, the bar with the wrong note red first, green then
    img = panel.heat_image.image
    bar_row = bar_matrix(panel.history.progress)[0].index(score.notes[WRONG].measure)
    assert img.shape[1] == 2 and tuple(img[bar_row, 1]) == (44, 160, 44) and tuple(img[bar_row, 0]) != (44, 160, 44)
    assert f"bar {score.notes[WRONG].measure}" in panel.heat_note.text()
    # open the old take: its stored judgement comes back on the score, ready to play; nothing new is kept
    oldest.setSelected(True)
    assert panel.open_button.isEnabled()
    with qtbot.waitSignal(panel.take_opened, timeout=60000):
        panel.open_button.click()
    cats = win.categories
    wrong = [i for i, n in enumerate(score.notes) if cats[n.id] == "wrong_pitch"]
    assert wrong == [WRONG]
    assert win.session.stored_take_id == str(ids[0]) and win.act_play_take.isEnabled()
    assert win.score_view.colours()[score.notes[WRONG].element_id].lower() == "#d62728"
    qtbot.wait(300)
    assert len(store.takes()) == 2 and len(store.take(ids[0])["analyses"]) == 1
    # the window's new take goes into the list
    with qtbot.waitSignal(panel.loaded, timeout=120000):
        win.open_take(takes[1][0].replace("take1", "take0"))   # the first take's file, opened as a take again
    assert lst.topLevelItemCount() == 2        # the same audio: the same take


def test_the_panel_without_takes_says_record_one(win, qtbot):
    panel = open_panel(win, qtbot)
    assert panel.take_list.topLevelItemCount() == 0 and "no takes" in panel.title.text()
    assert not panel.open_button.isEnabled()


@pytest.fixture(scope="module")
def speakers():
    """A real PortAudio output: a private PulseAudio server's null sink (tests/vmic.py)."""
    with virtual_microphone() as m:
        yield m


def test_comparing_two_takes_colours_what_improved_and_plays_them_following_the_bar(speakers, win, qtbot,
                                                                                      two_takes):
    score, takes = two_takes
    store, ids = seed(score, takes)
    panel = open_panel(win, qtbot)
    assert not panel.compare_button.isEnabled() and not panel.listen_buttons["both"].isEnabled()
    for i in range(2):
        panel.take_list.topLevelItem(i).setSelected(True)
    assert panel.compare_button.isEnabled()
    with qtbot.waitSignal(panel.compared, timeout=60000):
        panel.compare_button.click()
    wrong = score.notes[WRONG]
    colours = win.score_view.colours()
    assert colours[wrong.element_id].lower() == "#2e9d46"                       # improved
    assert sum(1 for c in colours.values() if c.lower() == "#2e9d46") == 1       # only that one
    assert panel.change_list.count() == 1 and "improved" in panel.change_list.item(0).text()
    assert f"bar {wrong.measure}" in panel.change_list.item(0).text()
    assert win.session.stored_take_id == str(ids[1])                            # B on show
    assert "green improved (1), red worse (0)" in panel.compare_label.text()
    assert "1 note better, 0 worse" in win.statusBar().currentMessage()    # not "Comparing…" once done
    # A then B over the Bars range, through the real output device; the cursor follows the score
    win.loop_from.setValue(wrong.measure)
    win.loop_to.setValue(wrong.measure)
    win.loop_check.setChecked(True)
    for mode in ("a_then_b", "both", "a", "b"):
        panel.listen_buttons[mode].click()
        qtbot.waitUntil(lambda: (panel.listening is not None and win.session.player is not None)
                        or bool(win.session.last_error), timeout=60000)
        assert not win.session.last_error, win.session.last_error
        lis = panel.listening
        assert lis is not None, (mode, win.session.player, win.statusBar().currentMessage())
        assert [p[0] for p in lis.parts] == {"a_then_b": ["A", "B"], "both": ["A+B"], "a": ["A"], "b": ["B"]}[mode]
        if mode == "a_then_b":       # the cursor reaches the bar's notes in A, and again in B
            bar_ids = {n.id for n in score.notes if n.measure == wrong.measure}
            qtbot.waitUntil(lambda: win.nav.cursor_id in bar_ids and panel.listen_note.text() == "playing A",
                            timeout=10000)
            qtbot.waitUntil(lambda: panel.listen_note.text() == "playing B", timeout=10000)
            qtbot.waitUntil(lambda: win.nav.cursor_id in bar_ids, timeout=10000)
        panel.listening = None
        win.stop()


def test_comparing_two_takes_of_some_bars_moves_the_cursor_over_those_bars(speakers, win, qtbot, tmp_path):
    """Takes of bars 5-6 are judged on their excerpt (its time 0 at bar 5): listening moves the cursor
    over bars 5-6 of the full score, not over its first bars."""
    from musicdesk.loop_takes import excerpt

    score = win.score
    part = excerpt(score, 5, 6)
    store = store_for(None)
    who, piece = store.person("Anna"), store.piece(score.source_path, score.part, score.title)
    t0 = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.timezone.utc)
    for k, errors in enumerate((Errors(wrong_midi={1: part.notes[1].midi + 3}), Errors())):
        notes, _ = perform(part.notes, errors, lead_s=0.3)
        path = tmp_path / f"bars{k}.wav"
        save_take(render_notes(notes, "flute"), path)
        a = analyze(part, load_take(str(path)))
        store.save_take(who, piece, path, record=analysis_record(a), recorded_at=t0 + dt.timedelta(days=k), bars=(5, 6))
    panel = open_panel(win, qtbot)
    for i in range(2):
        panel.take_list.topLevelItem(i).setSelected(True)
    with qtbot.waitSignal(panel.compared, timeout=60000):
        panel.compare_button.click()
    assert panel.change_list.count() == 1 and "bar 5" in panel.change_list.item(0).text()
    bar_ids = {n.element_id for n in score.notes if n.measure in (5, 6)}
    win.nav.set_cursor_note(None)
    panel.listen_buttons["a"].click()
    qtbot.waitUntil(lambda: panel.listening is not None or bool(win.session.last_error), timeout=60000)
    assert not win.session.last_error, win.session.last_error
    seen = set()

    def follow() -> bool:
        if win.nav.cursor_id is not None:
            seen.add(win.nav.cursor_id)
        return win.session.player is None or not win.session.player.is_playing

    qtbot.waitUntil(follow, timeout=20000)
    assert seen and seen <= bar_ids, (seen - bar_ids)
    win.stop()
