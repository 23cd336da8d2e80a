"""The melody lab's panel (pytest-qt, offscreen) with the shipped AR-VAE: slider drags re-decode the
selected measure the right way, undo/redo, presets, inpainting candidates, export, and the main
window's Tools > Melody lab on the practice score."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from musicdesk.melody.attributes import attributes  # noqa: E402
from musicdesk.melody.io import load_melody, save_melody  # noqa: E402
from musicdesk.melody.tokens import encode  # noqa: E402
from melody_tunes import plain_tune  # noqa: E402


@pytest.fixture(scope="module")
def lab():
    from musicdesk.melody.lab import MelodyLab

    return MelodyLab()


@pytest.fixture
def panel(qtbot, lab):
    from musicdesk.app.melody_panel import MelodyPanel

    p = MelodyPanel(lab)
    qtbot.addWidget(p)
    p.show()
    p.set_melody(plain_tune())
    yield p
    p.close_panel()


def _measure(panel, m: int) -> list[tuple[int, float]]:
    return [(n.midi, round(n.onset_beats, 4)) for n in panel.melody.notes_in(m)]


def _drag(qtbot, panel, attribute: str, position: int) -> None:
    s = panel.sliders[attribute]
    s.sliderPressed.emit()
    for v in np.linspace(s.value(), position, 6).astype(int)[1:]:
        s.setValue(int(v))
        qtbot.wait(5)
    s.sliderReleased.emit()
    qtbot.waitUntil(lambda: not panel.busy, timeout=10000)


def test_dragging_note_density_up_adds_notes_to_the_selected_measure_only(qtbot, panel):
    panel.select([2])
    before = [_measure(panel, m) for m in range(8)]
    d0 = attributes(encode(panel.melody)[2])["note_density"]
    assert float(panel.readouts["note_density"].text()) == pytest.approx(d0, abs=0.01)
    _drag(qtbot, panel, "note_density", 1000)
    after = [_measure(panel, m) for m in range(8)]
    assert len(after[2]) > len(before[2])
    assert [after[m] for m in range(8) if m != 2] == [before[m] for m in range(8) if m != 2]
    assert float(panel.readouts["note_density"].text()) > d0
    # the drag was one step: undo gives the measure back, redo the new one
    assert panel.history.can_undo
    panel.undo()
    assert _measure(panel, 2) == before[2]
    panel.redo()
    assert _measure(panel, 2) == after[2]


def test_slider_follows_the_selection_and_moves_the_attribute_monotonically(qtbot, panel, lab):
    panel.select([4])
    got = []
    for pos in (0, 500, 1000):
        _drag(qtbot, panel, "pitch_range_semitones", pos)
        got.append(attributes(encode(panel.melody)[4])["pitch_range_semitones"])
        panel.undo()
    assert got[0] <= got[1] <= got[2] and got[2] > got[0]
    panel.select([1])
    expected = panel._to_slider("note_density", attributes(encode(panel.melody)[1])["note_density"])
    assert panel.sliders["note_density"].value() == expected


def test_inpainting_offers_candidates_that_change_only_the_gap(qtbot, panel):
    panel.select([3, 4])
    before = [_measure(panel, m) for m in range(8)]
    panel.inpaint()
    qtbot.waitUntil(lambda: panel.cand_list.count() > 0, timeout=30000)
    panel.choose_candidate(0)
    after = [_measure(panel, m) for m in range(8)]
    assert [after[m] for m in (0, 1, 2, 5, 6, 7)] == [before[m] for m in (0, 1, 2, 5, 6, 7)]
    assert after[3] and after[4]                       # the gap holds notes
    panel.undo()
    assert [_measure(panel, m) for m in range(8)] == before


def test_presets_move_a_measure_toward_a_tune_type(qtbot, panel, lab):
    mix = lab.info.get("presets")
    if not mix:
        pytest.skip("these weights carry no presets")
    panel.select([2])
    before = _measure(panel, 2)
    changed = False
    for i in range(len(mix["names"])):
        panel.apply_preset(i)
        changed |= _measure(panel, 2) != before
        panel.undo()
    assert changed and _measure(panel, 2) == before


def test_export_re_imports_equal(panel, tmp_path):
    for suffix in (".musicxml", ".mid", ".abc"):
        path = tmp_path / f"out{suffix}"
        assert panel.export_file(str(path))
        assert np.array_equal(encode(load_melody(path)), encode(panel.melody))


def test_main_window_opens_the_lab_on_the_practice_score(qtbot, tmp_path):
    from musicdesk.app.main_window import MainWindow
    from musicdesk.app.settings import AppSettings
    from musicdesk.score import example_score_path

    w = MainWindow(settings=AppSettings(count_in_beats=0, takes_dir=str(tmp_path)), settings_org="musicdesk-tests")
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.score_shown, timeout=60000):
        w.open_score(example_score_path())
    w.act_melody_lab.trigger()
    lab_win = w.melody_lab
    assert lab_win is not None and lab_win.isVisible()
    mel = lab_win.panel.melody
    assert mel is not None and len(mel.notes) == len(load_melody(example_score_path()).notes)
    lab_win.close()
    w.close()


def test_sliders_keep_to_the_key_unless_chromatic_is_on(qtbot, panel):
    """The plain tune is in C major: every slider drag keeps its notes on C major's scale; with
    Chromatic on, the lab lets any note through."""
    from musicdesk.melody.keys import allowed_pitch_classes

    assert panel.key_label.text() == "Key: C major"
    assert panel.allowed_pitch_classes() == allowed_pitch_classes(panel.melody) == frozenset({0, 2, 4, 5, 7, 9, 11})
    for m, (a, pos) in enumerate((("note_density", 1000), ("pitch_range_semitones", 1000), ("interval_semitones", 1000),
                                   ("contour_semitones", 0))):
        panel.select([m])
        _drag(qtbot, panel, a, pos)
        assert all(n.midi % 12 in {0, 2, 4, 5, 7, 9, 11} for n in panel.melody.notes_in(m)), (a, panel.melody.notes_in(m))
    panel.chromatic.setChecked(True)
    assert panel.allowed_pitch_classes() is None


def test_the_lab_shows_the_melody_engraved_a_click_selects_its_measure_and_the_cursor_follows(qtbot, lab):
    """Notation in the lab (issue 17): the melody engraved as on the practice screen (the piano roll a
    second tab), note names in the key's spelling on request, a click on a note selects its bar, the
    selected bars shaded, and while it plays the cursor is on the sounding note."""
    from musicdesk.app.melody_panel import MelodyPanel
    from musicdesk.score import example_score_path

    p = MelodyPanel(lab)
    qtbot.addWidget(p)
    p.show()
    with qtbot.waitSignal(p.engraved, timeout=30000):
        p.set_melody(load_melody(example_score_path()))
    assert p.views.tabText(0) == "Notation" and p.views.tabText(1) == "Piano roll"
    assert p.score_view.engraving() is not None and p.title.text().startswith("Zwei Koenigskinder: bars 0-16")
    eid = next(e for e, m in p.notation.measure_of.items() if m == 4)
    p.score_view.note_clicked.emit(eid)
    assert p.selection == [4] and p.sel_from.value() == 4            # bar 4 of the score is the lab's bar 4
    assert p.score_view._loop == (4, 4)
    with qtbot.waitSignal(p.engraved, timeout=30000):
        p.names_check.setChecked(True)
    svg = "".join(p.score_view.engraving().pages)
    assert "Bb4" in svg and "F#4" in svg and "Gb4" not in svg       # named in the key: G minor's F#

    class Playing:                     # what the cursor reads of the Player
        is_playing = True
        position_s = 0.0

    spb = 60.0 / p.melody.tempo_bpm
    first = min(n.onset_beats for n in p.melody.notes)
    p.player = Playing()
    for k in (0, 5, 20):
        on, want = p.notation.onsets_s[k]
        Playing.position_s = on + first * spb + 0.05
        p._follow_timer = p._follow_timer or __import__("PySide6.QtCore", fromlist=["QTimer"]).QTimer(p)
        p._follow()
        assert p.score_view.cursor_note() == want and p._playhead.isVisible()
    Playing.is_playing = False
    p._follow()
    assert p.score_view.cursor_note() is None and not p._playhead.isVisible()
    p.player = None
    p.close_panel()


def test_listen_plays_through_a_real_output_and_the_cursor_walks_the_notes_in_order(qtbot, lab):
    """Playback feedback (issue 17) with real audio: Listen plays the melody through PortAudio into a
    private PulseAudio null sink (tests/vmic.py); what the sink's monitor receives is not silence, and
    while it plays the notation's cursor steps over the engraved notes in score order with the roll's
    playhead shown; when playback stops, both go."""
    import sounddevice as sd
    from vmic import virtual_microphone

    from musicdesk.app.melody_panel import MelodyPanel
    from musicdesk.score import example_score_path

    with virtual_microphone():
        p = MelodyPanel(lab)
        qtbot.addWidget(p)
        p.show()
        with qtbot.waitSignal(p.engraved, timeout=30000):
            p.set_melody(load_melody(example_score_path()))
        order = [eid for _, eid in p.notation.onsets_s]
        heard: list[np.ndarray] = []
        seen: list[str] = []

        def note_cursor() -> bool:
            c = p.score_view.cursor_note()
            if c is not None and (not seen or seen[-1] != c):
                seen.append(c)
                assert p._playhead.isVisible()
            return len(seen) >= 4

        with sd.InputStream(samplerate=22050, channels=1, dtype="float32",
                            callback=lambda data, *_: heard.append(data[:, 0].copy())):
            p.play_btn.click()
            qtbot.waitUntil(lambda: p.player is not None and p.player.is_playing, timeout=30000)
            qtbot.waitUntil(note_cursor, timeout=15000)
        # the cursor went forward through the notes, in the engraving's order
        idx = [order.index(e) for e in seen]
        assert idx == sorted(idx) and len(set(idx)) == len(idx), (seen, idx)
        rms = float(np.sqrt(np.mean(np.concatenate(heard) ** 2)))
        assert rms > 1e-3, f"the sink's monitor heard silence (rms {rms:.2e})"
        p.player.stop()
        qtbot.waitUntil(lambda: p.score_view.cursor_note() is None and not p._playhead.isVisible(), timeout=5000)
        p.close_panel()
