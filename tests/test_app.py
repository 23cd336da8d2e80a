"""The window (pytest-qt, offscreen): loading scores, analysing a take from a file, selection, errors."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from musicdesk.app.main_window import MainWindow  # noqa: E402
from musicdesk.app.settings import AppSettings, load_settings, save_settings  # noqa: E402
from musicdesk.audio import save_take  # noqa: E402
from musicdesk.score import example_score_path, load_score  # noqa: E402
from musicdesk.simulate import Errors, perform  # noqa: E402
from musicdesk.synth import render_notes  # noqa: E402

ORG = "musicdesk-tests"


@pytest.fixture
def win(qtbot, tmp_path):
    w = MainWindow(settings=AppSettings(count_in_beats=0, takes_dir=str(tmp_path)), settings_org=ORG)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.score_shown, timeout=60000):
        w.open_score(example_score_path())
    qtbot.waitUntil(lambda: not w.warming, timeout=60000)   # Record waits for the analysis code
    return w


@pytest.fixture(scope="module")
def take_file(tmp_path_factory):
    score = load_score(example_score_path())
    iw, im = 8, 20
    notes, _ = perform(score.notes, Errors(wrong_midi={iw: score.notes[iw].midi + 3}, missed=frozenset({im})))
    path = tmp_path_factory.mktemp("takes") / "take.wav"
    save_take(render_notes(notes, "flute"), path)
    return str(path), iw, im


def test_score_loads_with_parts_tempo_and_engraving(win):
    assert win.score is not None and len(win.score.notes) == 35
    assert win.part_combo.count() == 1 and win.part_combo.currentText() == win.score.part
    assert win.tempo_spin.value() == 100
    assert not win.score_view.grab().toImage().isNull()
    assert win.act_record.isEnabled() and not win.act_play_take.isEnabled()


def test_tempo_change_reloads_the_score_at_that_tempo(win, qtbot):
    with qtbot.waitSignal(win.score_shown, timeout=60000):
        win.tempo_spin.setValue(50)
    assert win.score.tempo_bpm == 50
    assert win.score.notes[-1].onset_s == pytest.approx(2 * load_score(example_score_path()).notes[-1].onset_s)


def test_analysing_a_take_file_colours_the_injected_notes(win, qtbot, take_file):
    path, iw, im = take_file
    with qtbot.waitSignal(win.analysis_shown, timeout=120000):
        win.open_take(path)
    cats = win.categories
    ids = [n.id for n in win.score.notes]
    assert [i for i, k in enumerate(ids) if cats[k] == "wrong_pitch"] == [iw]
    assert [i for i, k in enumerate(ids) if cats[k] == "missed"] == [im]
    # the engraved score carries those colours, the problem list names them, the ratings are drawn
    assert win.score_view.colours()[win.score.notes[iw].element_id].lower() == "#d62728"
    texts = [win.problem_list.item(i).text() for i in range(win.problem_list.count())]
    assert any("wrong note" in t for t in texts) and any("missed" in t for t in texts)
    assert 0 < win.rating_bars["note_accuracy"].value() < 100
    # the assessment network's ratings are drawn beside the report's (default network, on the CPU here)
    a = win.analysis.assessment
    assert a is not None and a.model == "SIConvNet-Delta", win.analysis.assessment_error
    assert win.network_bars["note_accuracy"].format() == f"{a.ratings['note_accuracy']:.2f}"
    assert "SIConvNet-Delta" in win.network_label.text()
    # issue 16, 10: each number stands beside its bar, never on it (a bar's text hid under its chunk)
    for rb in (*win.rating_bars.values(), *win.network_bars.values()):
        assert not rb.bar.isTextVisible() and rb.number.isVisible() and rb.number.text() == rb.format()
        assert not rb.bar.geometry().intersects(rb.number.geometry())
        assert rb.number.width() >= rb.number.fontMetrics().horizontalAdvance(rb.number.text())
    assert win.act_play_take.isEnabled() and win.act_play_both.isEnabled()
    # clicking the wrong note shows its details and moves the cursor there
    win.select_note(win.score.notes[iw].id)
    assert "wrong note" in win.details.text() and win._cursor_id == win.score.notes[iw].element_id


def test_analysis_can_be_cancelled_and_the_window_stays_usable(win, qtbot, take_file):
    win.open_take(take_file[0])
    qtbot.waitUntil(lambda: win._analysis_task is not None, timeout=30000)
    win.cancel_analysis()
    assert win._analysis_task is None and not win.progress.isVisible()
    qtbot.wait(200)
    assert win.act_open.isEnabled()


def test_a_broken_score_gives_a_clear_message(win, qtbot, tmp_path):
    bad = tmp_path / "broken.musicxml"
    bad.write_text("<score-partwise><part id='P1'><measure")
    win.open_score(str(bad))
    qtbot.waitUntil(lambda: win.last_error is not None, timeout=30000)
    assert "broken.musicxml" in win.last_error or "score" in win.last_error.lower()
    assert win.score is not None  # the score that was open stays open


def test_unreadable_audio_gives_a_clear_message(win, qtbot, tmp_path):
    bad = tmp_path / "take.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    win.open_take(str(bad))
    qtbot.waitUntil(lambda: win.last_error is not None, timeout=30000)
    assert "take.wav" in win.last_error


def test_silent_take_says_what_to_do(win, qtbot, tmp_path):
    p = tmp_path / "silent.wav"
    sf.write(p, np.zeros(44100 * 2, dtype=np.float32), 44100)
    win.open_take(str(p))
    qtbot.waitUntil(lambda: win.last_error is not None, timeout=30000)
    assert "silent" in win.last_error and "record again" in win.last_error


def test_settings_persist(tmp_path):
    org = ORG + "-persist"
    s = AppSettings(latency_ms=42.0, tracker="yin", count_in_beats=2, recent_files=["/a.xml", "/b.xml"])
    save_settings(s, org)
    back = load_settings(org)
    assert (back.latency_ms, back.tracker, back.count_in_beats, back.recent_files) == (42.0, "yin", 2,
                                                                                         ["/a.xml", "/b.xml"])


def test_loop_range_is_shaded_on_the_score_while_looping(win):
    win.loop_from.setValue(3)
    win.loop_to.setValue(2)
    assert win.score_view._loop_items == []            # looping is off
    win.loop_check.setChecked(True)
    assert win.score_view._loop == (2, 3) and len(win.score_view._loop_items) == 2
    win.loop_to.setValue(4)
    assert win.score_view._loop == (3, 4)
    win.loop_check.setChecked(False)
    assert win.score_view._loop_items == []


def test_record_waits_until_the_analysis_code_is_loaded(qtbot, tmp_path):
    import musicdesk.app.main_window as mw

    mw._WARMED = False                                 # as in a fresh session
    w = MainWindow(settings=AppSettings(count_in_beats=0, takes_dir=str(tmp_path)), settings_org=ORG)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.score_shown, timeout=60000):
        w.open_score(example_score_path())
    if w.warming:                                      # (it may already be done on a fast machine)
        assert not w.act_record.isEnabled()
        w.start_recording()
        assert w.recorder is None
    qtbot.waitUntil(lambda: not w.warming, timeout=60000)
    assert w.act_record.isEnabled()


def test_settings_reference_pitch_reaches_the_tolerances(qtbot):
    """Settings > Reference pitch (issue 15): chosen from the list or typed, kept in the tolerances."""
    from musicdesk.app.settings import AppSettings
    from musicdesk.app.settings_dialog import SettingsDialog

    dlg = SettingsDialog(AppSettings(reference_a4_hz=442.0))
    qtbot.addWidget(dlg)
    assert dlg.a4.currentText() == "442 Hz"
    assert dlg.result_settings().tolerances().reference_a4_hz == 442.0
    dlg.a4.setEditText("415")
    assert dlg.result_settings().reference_a4_hz == 415.0
    dlg.a4.setEditText("loud")   # not a pitch: the old value stays
    assert dlg.result_settings().reference_a4_hz == 442.0


def test_a_late_note_stays_green_with_a_timing_mark(win, qtbot, tmp_path):
    """A note played at the right pitch but late keeps its pitch colour on the score, with a mark."""
    score = load_score(example_score_path())
    il = 12
    notes, _ = perform(score.notes, Errors(shift_ms={il: 160}))
    path = tmp_path / "late.wav"
    save_take(render_notes(notes, "flute"), path)
    with qtbot.waitSignal(win.analysis_shown, timeout=120000):
        win.open_take(str(path))
    eid = win.score.notes[il].element_id
    assert win.analysis.report.notes[il].timing == "late"
    assert win.score_view.colours()[eid].lower() == "#2e9d46"      # green: the pitch was right
    assert win.score_view.timing_marks() == {eid: "late"}
    assert win.categories[win.score.notes[il].id] == "late"        # the problem list still names it


def test_no_output_device_is_said_once_in_the_status_bar(win, qtbot, tmp_path):
    """Issue 16, 2: with no output device, clicking a problem opened a modal every time ("...in
    Settings.. Check the output device in Settings."). It is said once, in the status bar. Real
    PortAudio: this machine (and CI) has no output device; skipped where one is present."""
    import sounddevice as sd
    from PySide6.QtWidgets import QMessageBox

    try:
        sd.OutputStream(samplerate=44100, channels=1).close()
        pytest.skip("an output device is present here")
    except Exception:
        pass
    score = load_score(example_score_path())
    notes, _ = perform(score.notes, Errors(shift_ms={12: 160}, wrong_midi={5: score.notes[5].midi + 2}))
    path = tmp_path / "take.wav"
    save_take(render_notes(notes, "flute"), path)
    with qtbot.waitSignal(win.analysis_shown, timeout=120000):
        win.open_take(str(path))
    assert win.problem_list.count() > 0
    for _ in range(2):
        win.last_error = None
        win._problem_clicked(win.problem_list.item(0))
        qtbot.waitUntil(lambda: "output" in (win.last_error or ""), timeout=30000)
    msg = win.last_error
    assert win.statusBar().currentMessage() == msg
    assert ".." not in msg and msg.count("Settings") == 1, msg
    assert not [w for w in win.findChildren(QMessageBox) if w.isVisible()]


def test_recent_keeps_absolute_paths(win, qtbot, tmp_path, monkeypatch):
    """Issue 16, 3: a score opened by a relative path from its own folder, then picked from File >
    Recent with another working folder, opens (it gave "Score file not found")."""
    import shutil
    from pathlib import Path

    own = tmp_path / "scores"
    own.mkdir()
    shutil.copy(example_score_path(), own / "piece.musicxml")
    monkeypatch.chdir(own)
    with qtbot.waitSignal(win.score_shown, timeout=60000):
        win.open_score("piece.musicxml")
    assert win.settings.recent_files[0] == str(own / "piece.musicxml")
    monkeypatch.chdir(tmp_path)
    win.last_error = None
    with qtbot.waitSignal(win.score_shown, timeout=60000):
        win.recent_menu.actions()[0].trigger()
    assert win.last_error is None
    assert Path(win.settings.recent_files[0]).is_absolute()


def test_an_unreadable_take_clears_the_previous_takes_results(win, qtbot, tmp_path):
    """Issue 16, 5: after an unreadable take, the roll kept the previous take's coloured notes and
    Play take stayed enabled. The error is said, and nothing of the other take is left on screen
    (its file stays where it is)."""
    score = load_score(example_score_path())
    notes, _ = perform(score.notes, Errors(wrong_midi={5: score.notes[5].midi + 2}))
    good = tmp_path / "good.wav"
    save_take(render_notes(notes, "flute"), good)
    with qtbot.waitSignal(win.analysis_shown, timeout=120000):
        win.open_take(str(good))
    assert win.act_play_take.isEnabled() and win.problem_list.count() > 0
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    win.last_error = None
    win.open_take(str(bad))
    qtbot.waitUntil(lambda: win.last_error is not None, timeout=30000)
    assert win.take is None and win.analysis is None
    assert not win.act_play_take.isEnabled()
    assert win.problem_list.count() == 0
    assert all(n.category == "" for n in win.roll._notes)           # the score's notes, not judged
    assert {n.key for n in win.roll._notes} == {n.id for n in win.score.notes}
    assert len(win.roll._contour.getData()[0] or []) == 0
    assert good.exists()


def test_the_empty_window_shows_no_made_up_tempo_or_bars(qtbot, tmp_path):
    """Issue 16, 10: with no score open the toolbar read "Tempo 20 bpm, Bars 0-0"."""
    w = MainWindow(settings=AppSettings(count_in_beats=0, takes_dir=str(tmp_path)), settings_org=ORG)
    qtbot.addWidget(w)
    assert w.tempo_spin.text() == "–" and w.loop_from.text() == "–" and w.loop_to.text() == "–"
    assert not w.tempo_spin.isEnabled() and not w.loop_from.isEnabled()
    with qtbot.waitSignal(w.score_shown, timeout=60000):
        w.open_score(example_score_path())
    assert w.tempo_spin.text() == "100 bpm" and w.loop_from.value() == 1 and w.loop_to.value() > 1
    assert w.loop_from.text() == "1" and w.loop_to.text() == str(w.loop_to.value())
    w.tempo_spin.setValue(20)
    assert w.tempo_spin.text() == "20 bpm"
    assert w.tempo_spin.isEnabled() and w.loop_from.isEnabled()


def test_a_transposing_parts_note_details_say_written_pitch(win, qtbot):
    """Issue 16, 7: the B-flat clarinet example's notes are named as written, and the details say so."""
    from pathlib import Path

    with qtbot.waitSignal(win.score_shown, timeout=60000):
        win.open_score(str(Path(example_score_path()).parent / "example_transposing.musicxml"))
    n = win.score.notes[1]
    win.select_note(n.id)
    assert win.details.text().startswith(f"Bar {n.measure}, beat 2: E5")
    assert "written pitch" in win.details.text()


def test_file_examples_opens_the_example_take_with_its_results(win, qtbot):
    """Issue 16, 12: without a microphone a new user saw no results. File > Examples opens the
    bundled score with its take, analysed."""
    assert win.examples_menu.actions()[0] is win.act_example_take
    with qtbot.waitSignal(win.analysis_shown, timeout=120000):
        win.act_example_take.trigger()
    assert win.take is not None and win.problem_list.count() > 1
    assert any(c != "correct" for c in win.categories.values())


def test_help_menu_lists_the_shortcuts_and_what_colours_and_ratings_mean(win):
    """Issue 16, 14: a Help menu with the keyboard shortcuts and the meaning of each colour and rating."""
    from musicdesk.app.colours import CATEGORY_LABELS

    win.help_actions["shortcuts"].trigger()
    page = win.help_dialog.text.toPlainText()
    assert win.help_dialog.isVisible()
    for seq, what in (("R", "Record"), ("Space", "Stop"), ("P", "Take"), ("Ctrl+O", "Open score"),
                      ("Esc", "Cancel analysis")):
        assert seq in page and what in page
    win.help_actions["colours"].trigger()
    page = win.help_dialog.text.toPlainText()
    assert all(label in page for label in CATEGORY_LABELS.values())
    assert "Note accuracy" in page and "Rhythm" in page and "Intonation" in page and "one melodic line" in page
    win.help_actions["about"].trigger()
    assert "musicdesk" in win.help_dialog.text.toPlainText()


def test_a_piano_score_says_above_the_score_that_one_line_is_followed(win, qtbot, tmp_path):
    """Issue 16, 11: a score with chords says, above the score and while it is open, that musicdesk
    follows one melodic line."""
    import music21 as m21

    s = m21.stream.Score()
    p = m21.stream.Part()
    p.insert(0, m21.instrument.Piano())
    for pitches in (("C4", "E4", "G4"), ("D4", "F4", "A4"), ("E4", "G4", "C5"), ("C4",)):
        p.append(m21.chord.Chord(pitches, quarterLength=1.0) if len(pitches) > 1 else m21.note.Note(pitches[0]))
    s.insert(0, p)
    path = str(tmp_path / "chords.musicxml")
    s.write("musicxml", fp=path)
    assert not win.nav.notice.isVisible()
    with qtbot.waitSignal(win.score_shown, timeout=60000):
        win.open_score(path)
    assert win.nav.notice.isVisible() and "one melodic line" in win.nav.notice.text()
    with qtbot.waitSignal(win.score_shown, timeout=60000):
        win.open_score(example_score_path())
    assert not win.nav.notice.isVisible()


def test_the_window_is_shown_before_the_slow_modules_load(tmp_path):
    """Issue 16, 15: the window shows first; pyqtgraph (the piano roll), music21 and torch load behind
    it (torch in the network's own process): making and painting it needs none of them (the warm-up
    worker, which imports them, is kept off here). Then the real `musicdesk` command, launched as a
    user would, reports the window before Record."""
    import json
    import os
    import subprocess
    import sys

    code = ("import sys; from PySide6.QtWidgets import QApplication; app = QApplication([]);"
            "import musicdesk.app.main_window as mw; mw._WARMED = True; w = mw.MainWindow(); w.show(); app.processEvents();"
            "print(sorted(m for m in ('pyqtgraph', 'music21', 'torch', 'numba') if m in sys.modules))")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr
    log = tmp_path / "launch.json"
    env["MUSICDESK_LAUNCH_LOG"] = str(log)
    subprocess.run([sys.executable, "-m", "musicdesk"], env=env, capture_output=True, timeout=180, check=True)
    times = json.loads(log.read_text())
    assert times["window_shown"] < times["record_enabled"]


def test_concert_pitch_setting_names_a_transposing_part_as_it_sounds(win, qtbot):
    """Issue 16, 7: written pitch by default, concert pitch on a setting: the note details, the names
    note, and the piano roll's pitch axis (the roll's written shift was set on its placeholder and
    never reached it: the axis named concert pitch)."""
    import dataclasses
    from pathlib import Path

    with qtbot.waitSignal(win.score_shown, timeout=60000):
        win.open_score(str(Path(example_score_path()).parent / "example_transposing.musicxml"))
    n = win.score.notes[1]
    axis = lambda: dict(win.roll.get().getAxis("left")._tickLevels[0])  # noqa: E731  (MIDI -> name)
    assert axis()[74] == "E5"                              # written E5 sounds D5 (MIDI 74)
    win.apply_settings(dataclasses.replace(win.settings, concert_pitch=True))
    win.select_note(n.id)
    assert win.details.text().startswith(f"Bar {n.measure}, beat 2: D5"), win.details.text()
    assert "concert pitch" in win.details.text()
    assert 74 not in axis() and axis()[76] == "E5" and axis()[72] == "C5"
    win.apply_settings(dataclasses.replace(win.settings, concert_pitch=False))
    win.select_note(n.id)
    assert win.details.text().startswith(f"Bar {n.measure}, beat 2: E5") and "written pitch" in win.details.text()


def test_an_opened_take_goes_into_the_practice_history_with_its_analysis(win, qtbot, take_file, tmp_path):
    """Issue 18, 2: every take the window opens is kept, with its analysis; opening it again adds no take;
    with the setting off, nothing is kept; a store that cannot be written says so in the status bar."""
    import os

    from musicdesk.history.store import Store

    path, iw, _ = take_file
    win.settings.student_name = "Anna"
    with qtbot.waitSignal(win.history.kept, timeout=120000):
        win.open_take(path)
    store = Store(os.environ["MUSICDESK_DB"])
    [t] = store.takes()
    assert t.student == "Anna" and t.piece == win.score.title and t.n_notes == 35 and str(t.id) == win.history.last_take_id
    notes = store.report(t.id)["notes"]
    assert [n["status"] for n in notes].count("wrong_pitch") == 1 and notes[iw]["status"] == "wrong_pitch"
    with qtbot.waitSignal(win.history.kept, timeout=120000):
        win.open_take(path)                                   # the same file: the same take
    assert len(store.takes()) == 1
    win.settings.history_db = str(tmp_path / "no" / "such" / "\0bad")
    with qtbot.waitSignal(win.analysis_shown, timeout=120000):
        win.open_take(path)
    qtbot.waitUntil(lambda: "practice history" in win.statusBar().currentMessage(), timeout=30000)
    win.settings.history_db = ""
    win.settings.history_enabled = False
    with qtbot.waitSignal(win.analysis_shown, timeout=120000):
        win.open_take(path)
    qtbot.wait(500)
    assert len(store.takes()) == 1
    store.close()


def test_a_troubled_minus_one_take_says_why_its_judgement_may_be_off(win):
    from musicdesk.separate.minusone import POOR_ECHO_DB, Cleaned

    mo = win.takes.minus_one
    assert not mo.last_was_troubled and mo.reliability_note() == ""
    mo.last = Cleaned(np.zeros(10, np.float32), 0.1, POOR_ECHO_DB + 5)
    assert not mo.last_was_troubled and mo.reliability_note() == ""
    mo.last_underflows = 2
    assert mo.last_was_troubled and "stuttered 2 times" in mo.reliability_note()
    mo.last_underflows, mo.last = 0, Cleaned(np.zeros(10, np.float32), 0.1, 6.2)
    note = mo.reliability_note()
    assert mo.last_was_troubled and "taken out by 6 dB" in note and "record again" in note
