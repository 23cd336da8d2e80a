"""The stem player (issue 21): musicdesk.separate.mixer's pure functions, and Tools > Stems
(musicdesk.app.stems_panel) with pytest-qt on a rendered two-part piece (real FluidSynth renders, the
real NMF separation): lanes, mute, solo, faders, loop over bars, speed, cancel, export, error dialogs,
the report of one part in the practice window, and playback through a real PortAudio output."""
from __future__ import annotations

import dataclasses
import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pytestqt")

from test_separate import SR, TUNE_A, _midi_file, _perform  # noqa: E402

from musicdesk.app.settings import AppSettings  # noqa: E402
from musicdesk.audio import Take  # noqa: E402
from musicdesk.separate import mixer  # noqa: E402
from musicdesk.separate.core import SeparationError  # noqa: E402

ORG = "musicdesk-tests"


@pytest.fixture(scope="module")
def piece(tmp_path_factory):
    d = tmp_path_factory.mktemp("stems")
    score = _midi_file(d / "duo.mid", TUNE_A)
    mix, stems, _on = _perform(TUNE_A, lead_s=1.0, stretch=0.1, rng=np.random.default_rng(5))
    sf.write(d / "duo.wav", mix, SR)
    return d, score, mix, stems


@pytest.fixture(scope="module")
def ens(piece):
    d, score, mix, _stems = piece
    return mixer.open_ensemble(mix, SR, score, "nmf", audio_path=str(d / "duo.wav"))


# --------------------------------------------------------------------------- the core

def test_gains_like_a_mixing_desk():
    g = mixer.audible_gains([0, 0, -6], [False, False, False], [False, False, False])
    assert g == pytest.approx([1, 1, 10 ** (-6 / 20)], abs=1e-6)
    assert list(mixer.audible_gains([0, 0, 0], [True, False, False], [False] * 3)) == [0, 1, 1]
    assert list(mixer.audible_gains([0, 0, 0], [False] * 3, [False, True, False])) == [0, 1, 0]
    assert list(mixer.audible_gains([0, 0, 0], [False, True, False], [True, True, False])) == [1, 0, 0]  # mute wins
    assert mixer.fader_gain(mixer.FADER_MIN_DB) == 0.0 and mixer.fader_gain(6) == pytest.approx(1.995, abs=1e-3)
    with pytest.raises(ValueError):
        mixer.audible_gains([0, 0], [False], [False, False])


def test_open_ensemble_gives_what_the_lanes_draw(ens):
    assert ens.parts == ("Violin", "Bassoon")
    n = len(ens.stems.mixture)
    assert ens.stems.stems.shape == (2, n)
    assert len(ens.contours) == 2 and all(len(c.times_s) for c in ens.contours)
    assert [len(x) for x in ens.notes_s] == [len(s.notes) for s in ens.scores]
    # the violin stem's pitch follows its notes (the piano roll's contour over the part's notes)
    c = ens.contours[0]
    hits = []
    for (on, off, m) in ens.notes_s[0]:
        sel = (c.times_s > on + 0.1) & (c.times_s < off - 0.05) & c.voiced
        if sel.any():
            hits.append(abs(np.median(c.midi[sel]) - m) < 0.5)
    assert np.mean(hits) > 0.9


def test_mix_headroom_stretch_and_bars(ens):
    st = ens.stems.stems
    scale = mixer.headroom(st)
    assert np.max(np.abs(mixer.mix(st, [1, 1], scale))) <= mixer.PEAK_LIMIT + 1e-6
    assert mixer.mix(st, [0, 1], 1.0) == pytest.approx(np.clip(st[1], -1, 1), abs=1e-6)
    slow = mixer.stretch(st[:, :SR * 2], SR, 0.5)
    assert slow.shape == (2, SR * 4)
    a, b = mixer.bars_span_s(ens, 2, 3)
    starts = [on for sc, notes in zip(ens.scores, ens.notes_s) for n, (on, _f, _m) in zip(sc.notes, notes)
              if n.measure == 2 and on is not None]
    assert a == pytest.approx(min(starts))
    after = [on for sc, notes in zip(ens.scores, ens.notes_s) for n, (on, _f, _m) in zip(sc.notes, notes)
             if n.measure == 4 and on is not None]
    assert b == pytest.approx(min(after))
    with pytest.raises(SeparationError, match="no notes"):
        mixer.bars_span_s(ens, 40, 41)


def test_export_round_trips_and_says_what_to_do(ens, tmp_path):
    y = ens.stems.stems[0]
    for ext in ("wav", "flac"):
        p = mixer.export_audio(tmp_path / f"v.{ext}", y, SR)
        back, sr = sf.read(p, dtype="float32")
        assert sr == SR and back.shape == y.shape
        assert np.max(np.abs(back - np.clip(y, -1, 1))) < 2 / 32768
    with pytest.raises(SeparationError, match=r"\.wav or \.flac"):
        mixer.export_audio(tmp_path / "v.mp4", y, SR)
    with pytest.raises(SeparationError, match="Cannot write"):
        mixer.export_audio(tmp_path / "no-such-folder" / "v.wav", y, SR)


# --------------------------------------------------------------------------- the window

@pytest.fixture
def win(qtbot, tmp_path):
    from musicdesk.app.stems_panel import StemsWindow

    w = StemsWindow(AppSettings(takes_dir=str(tmp_path)), ORG)
    qtbot.addWidget(w)
    return w


def test_separates_in_the_background_with_progress(win, qtbot, piece):
    d, score, _mix, _stems = piece
    assert not win.act_separate.isEnabled()          # nothing to separate yet
    win.set_recording(str(d / "duo.wav"))
    win.set_score(str(score))
    assert win.act_separate.isEnabled() and not win.act_play.isEnabled()
    seen = []
    win.start_separation()
    win._task.signals.progress.connect(lambda stage, f: seen.append(f))
    assert win.cancel_button.isVisibleTo(win) and not win.act_separate.isEnabled()
    qtbot.waitUntil(lambda: win.ens is not None, timeout=120_000)
    assert [ln.k for ln in win.lanes] == [0, 1]
    assert win.act_play.isEnabled() and not win.cancel_button.isVisibleTo(win)
    assert seen and max(seen) >= 0.9
    assert (win.bar_from.value(), win.bar_to.value()) == (1, 4)
    assert "2 stems" in win.info.text()


def test_mute_solo_and_faders_shape_the_mix(win, ens):
    win.show_stems(ens)
    st, scale = ens.stems.stems, mixer.headroom(ens.stems.stems)
    v, b = win.lanes
    assert win.current_mix() == pytest.approx(mixer.mix(st, [1, 1], scale), abs=1e-6)
    assert v.audible() and b.audible()
    v.mute.setChecked(True)
    assert win.current_mix() == pytest.approx(np.clip(scale * st[1], -1, 1), abs=1e-6)
    assert not v.audible() and b.audible()                 # the muted lane is drawn faded
    v.mute.setChecked(False)
    v.solo.setChecked(True)
    assert list(win.gains()) == [1, 0] and v.audible() and not b.audible()
    b.solo.setChecked(True)
    assert list(win.gains()) == [1, 1] and v.audible() and b.audible()
    v.solo.setChecked(False)
    b.solo.setChecked(False)
    b.fader.setValue(-6)
    assert win.gains()[1] == pytest.approx(10 ** (-6 / 20), abs=1e-6) and b.db_label.text() == "-6 dB"
    b.fader.setValue(int(mixer.FADER_MIN_DB))
    assert win.gains()[1] == 0 and b.db_label.text() == "off" and not b.audible()
    win.show_stems(ens)                                    # the next separation: every lane heard again
    assert all(ln.audible() for ln in win.lanes)


def test_lanes_are_built_ahead_and_reused_for_the_next_recording(win, qtbot, ens):
    """The lanes' plots are built while nothing else happens (the window just shown), and the next
    recording reuses the lanes, with the mixer back at unity and the new parts' names."""
    from musicdesk.app import stems_panel

    win.show()
    qtbot.waitUntil(lambda: len(win._spare) == stems_panel.SPARE_LANES, timeout=10_000)
    built = list(win._spare)
    win.show_stems(ens)
    assert win.lanes == built[:2] and len(win._spare) == 2
    v, b = win.lanes
    v.mute.setChecked(True)
    b.fader.setValue(-12)
    win.show_stems(dataclasses.replace(ens, stems=dataclasses.replace(ens.stems, parts=("Flute", "Cello"))))
    assert set(win.lanes) <= set(built) and len(win.lanes) == 2 and len(win._spare) == 2
    assert [ln.k for ln in win.lanes] == [0, 1] and list(win.gains()) == [1, 1]
    assert not any(ln.mute.isChecked() for ln in win.lanes) and win.lanes[1].db_label.text() == "0 dB"
    assert "Flute" in win.lanes[0].name.text() and win.lanes[1].act_report.text() == "Report of Cello in the practice window"
    assert win.lanes[0].isVisible() and not any(ln.isVisible() for ln in win._spare)
    assert len(win.lanes[0].plot.getPlotItem().items) > 3          # drawn afresh, the cursor included
    assert win.lanes[0].cursor in win.lanes[0].plot.getPlotItem().items


def test_loop_bars_and_speed(win, qtbot, ens):
    win.show_stems(ens)
    assert win.play_span_s() == (0.0, None)
    win.loop_check.setChecked(True)
    win.bar_from.setValue(2)
    win.bar_to.setValue(3)
    assert win.play_span_s() == mixer.bars_span_s(ens, 2, 3)
    # every lane shades the looped bars, and nothing once Loop is off
    for lane in win.lanes:
        assert lane.loop_region.isVisible() and lane.loop_region in lane.plot.getPlotItem().items
        assert lane.loop_region.getRegion() == pytest.approx(mixer.bars_span_s(ens, 2, 3))
    win.bar_to.setValue(4)
    assert win.lanes[0].loop_region.getRegion() == pytest.approx(mixer.bars_span_s(ens, 2, 4))
    win.loop_check.setChecked(False)
    assert not any(lane.loop_region.isVisible() for lane in win.lanes)
    win.loop_check.setChecked(True)
    # the pitch axis names notes, as the practice window's contour does
    ticks = [label for _m, label in win.lanes[0].plot.getAxis("left")._tickLevels[0]]
    assert ticks and all(label[0] in "CEG" and label[-1].isdigit() for label in ticks), ticks
    win.speed_combo.setCurrentIndex(mixer.SPEEDS.index(0.5))
    qtbot.waitUntil(lambda: 0.5 in win._stretched and win._task is None, timeout=60_000)
    assert win.speed == 0.5
    assert len(win.current_mix()) == pytest.approx(2 * len(ens.stems.mixture), abs=2)


def test_cancel_leaves_nothing_half_done(win, qtbot, piece):
    d, score, _mix, _stems = piece
    win.set_recording(str(d / "duo.wav"))
    win.set_score(str(score))
    win.start_separation()
    win.cancel()
    qtbot.waitUntil(lambda: win._task is None, timeout=60_000)
    assert win.ens is None and win.lanes == []
    assert "cancelled" in win.statusBar().currentMessage()
    assert win.act_separate.isEnabled()


def test_the_network_separates_in_a_child_process_and_cancels_there(win, qtbot, piece):
    """The network runs in a child process (importing torch in a worker thread would stall the window):
    its stems come back, a cancel reaches it, and it is reused."""
    from musicdesk.app import stems_panel

    d, score, _mix, _stems = piece
    win.set_recording(str(d / "duo.wav"))
    win.set_score(str(score))
    win.method_combo.setCurrentText("network")
    stages = []
    win.start_separation()
    win._task.signals.progress.connect(lambda st, f: stages.append(st))
    qtbot.waitUntil(lambda: win.ens is not None, timeout=180_000)
    assert win.ens.stems.method == "network" and win.ens.stems.stems.shape[0] == 2
    assert stages and len(win.lanes) == 2
    child = stems_panel._CHILD
    assert child is not None
    win.start_separation()
    win.cancel()
    qtbot.waitUntil(lambda: win._task is None, timeout=120_000)
    assert "cancelled" in win.statusBar().currentMessage() and stems_panel._CHILD is child
    win.start_separation()                                # the same child, not broken by the cancel
    qtbot.waitUntil(lambda: win._task is None and win.ens is not None, timeout=120_000)
    assert win.ens.stems.method == "network"


def test_bad_input_gets_a_dialog(win, qtbot, piece, tmp_path):
    import pretty_midi

    d, score, mix, _stems = piece
    solo = pretty_midi.PrettyMIDI(str(score))
    solo.instruments = solo.instruments[:1]
    solo.write(str(tmp_path / "solo.mid"))
    win.set_recording(str(d / "duo.wav"))
    win.set_score(str(tmp_path / "solo.mid"))
    win.start_separation()
    qtbot.waitUntil(lambda: win._task is None, timeout=60_000)
    assert "two parts or more" in win.session.last_error
    sf.write(tmp_path / "silence.wav", np.zeros(SR * 5, np.float32), SR)
    win.set_recording(str(tmp_path / "silence.wav"))
    win.set_score(str(score))
    win.start_separation()
    qtbot.waitUntil(lambda: win._task is None, timeout=60_000)
    assert "silent" in win.session.last_error
    assert win.ens is None
    win.set_recording(str(tmp_path / "missing.wav"))
    win.start_separation()
    qtbot.waitUntil(lambda: win._task is None, timeout=60_000)
    assert "missing.wav" in win.session.last_error


def test_export_from_a_lane(win, ens, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    win.show_stems(ens)
    out = tmp_path / "minus-violin.flac"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    win.lanes[0].act_export_minus.trigger()
    back, sr = sf.read(out, dtype="float32")
    assert sr == SR and np.max(np.abs(back - np.clip(ens.stems.minus_one(0), -1, 1))) < 2 / 32768
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "x" / "v.wav"), ""))
    win.lanes[0].act_export.trigger()
    assert "Cannot write" in win.session.last_error


def practice_with_stems(qtbot, tmp_path, score, ens):
    """(the practice window with `score` open, Tools > Stems beside it showing `ens`)."""
    from musicdesk.app import stems_panel
    from musicdesk.app.main_window import MainWindow

    w = MainWindow(AppSettings(count_in_beats=0, takes_dir=str(tmp_path)), ORG)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.score_shown, timeout=60_000):
        w.open_score(str(score))
    sw = stems_panel.show_for(w)
    sw.show_stems(ens)
    return w, sw


def test_report_of_one_part_in_the_practice_window(qtbot, tmp_path, piece, ens):
    """Tools > Stems from the practice window: the bassoon's stem is judged against the bassoon part."""
    d, score, _mix, _stems = piece
    w, sw = practice_with_stems(qtbot, tmp_path, score, ens)
    assert sw._score() == str(score)
    sw.lanes[1].act_report.trigger()
    qtbot.waitUntil(lambda: w.session.analysis is not None and w.session.score.part == "Bassoon", timeout=120_000)
    rep = w.session.analysis.report
    right = [n for n in rep.notes if n.onset_s is not None]
    assert len(right) == len(w.session.score.notes)
    assert sum(n.status == "correct" for n in rep.notes) >= 0.75 * len(rep.notes)
    sw.close()
    w.close()


def test_minus_one_from_a_lane_plays_the_other_stems_in_the_practice_window(qtbot, tmp_path, piece, ens):
    """A lane's "play along" hands the practice window the other stems (at their faders) as the
    accompaniment for the next takes, and shows the lane's part there."""
    d, score, _mix, _stems = piece
    w, sw = practice_with_stems(qtbot, tmp_path, score, ens)
    sw.lanes[0].fader.setValue(-6)                     # the violin's own fader does not matter
    sw.lanes[1].fader.setValue(-6)
    sw.lanes[0].act_minus_one.trigger()
    mo = w.takes.minus_one
    qtbot.waitUntil(lambda: mo.active, timeout=60_000)
    assert mo.acc.part == "Violin" and w.session.score.part == "Violin"
    st = ens.stems.stems
    want = mixer.headroom(st) * 10 ** (-6 / 20) * st[1]
    assert mo.acc.samples == pytest.approx(want, abs=1e-5) and mo.acc.sr == ens.stems.sr
    assert "other stems" in mo.describe() and "taken out" in mo.describe()
    w.session.settings.headphones = True
    assert "nothing is removed" in mo.describe()
    assert mo.take_task(np.zeros(100, np.float32), 44100, "") is None   # nothing played: judged as recorded
    mo.act_off.trigger()
    assert not mo.active
    sw.close()
    w.close()


@pytest.fixture(scope="module")
def vmic():
    from vmic import virtual_microphone

    with virtual_microphone() as mic:
        yield mic


def test_plays_the_mix_and_a_mute_is_heard(vmic, win, qtbot, ens):
    """Real PortAudio output: playing moves the lanes' cursor; muting swaps the mix being played."""
    win.show_stems(ens)
    win.play()
    assert win.player is not None and win.player.is_playing
    qtbot.waitUntil(lambda: win.lanes[0].cursor.value() > 0.3, timeout=5000)
    win.lanes[0].mute.setChecked(True)
    assert np.array_equal(win.player._x, win.current_mix())
    assert np.allclose(win.player._x, np.clip(mixer.headroom(ens.stems.stems) * ens.stems.stems[1], -1, 1))
    win.stop()
    assert not win.player.is_playing


def test_the_practice_scores_cursor_follows_the_stems_as_they_play(vmic, qtbot, tmp_path, piece, ens):
    """Real PortAudio output: while the stems play, the practice window's engraved score cursor moves
    along the notes of the part on show, in the recording's time (its aligned onsets)."""
    d, score, _mix, _stems = piece
    w, sw = practice_with_stems(qtbot, tmp_path, score, ens)
    part = w.session.score.part
    onsets, ids = sw._timelines[part]
    seen = []
    sw.play()
    qtbot.waitUntil(lambda: (seen.append(w.nav.cursor_id) or len(set(filter(None, seen))) >= 3), timeout=20_000)
    t = sw.position_s()
    sw.stop()
    order = [ids.index(e) for e in dict.fromkeys(filter(None, seen))]
    assert order == sorted(order) and order[0] <= 1          # note after note, from the start
    assert onsets[order[-1]] <= t + 0.1                      # never ahead of the playback
    sw.close()
    w.close()
