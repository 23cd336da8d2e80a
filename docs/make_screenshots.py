"""Screenshots of the main states of the window into docs/screenshots/ (run from the repository root):

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshots.py

empty.png (no score yet), score.png (the bundled example loaded), recording.png (mid-take, recorded
through a virtual microphone: a rendered take is played into a PulseAudio null sink), results.png (the
bundled example take analysed: coloured notes, contour, ratings, problems), melody_lab.png (the melody
lab on the example score's part, a measure varied with a slider and inpainting candidates listed),
bach10-02-violin-after.png (a professional take: the Bach10 chorale 02 violin, when ../shared/data is
there; bach10-02-violin-before.png is the same take in the window before issue 15, made by the same
command on commit 1ad51a0).
history-takes.png, history-progress.png, history-bars.png, history-practice.png, history-compare.png,
history-review.png and history-assignments.png (View > History, Teacher review and Assignments over six
rendered takes of the example a few days apart, each with fewer injected errors; the oldest take opened).
`make_screenshots.py melody` makes only the melody lab; `make_screenshots.py bach10` only the Bach10 one;
`make_screenshots.py history` only the history panel.
stems.png and stems-part-report.png (Tools > Stems on the Bach10 01 mixture: four lanes, the violin muted,
a loop over bars 3-5; then the bassoon's stem judged in the practice window); `make_screenshots.py stems`.
minus-one.png (minus-one practice: the Bach10 01 violin recorded while the app plays the score's other
three parts through a speaker, simulated here, and judged with the accompaniment taken out);
`make_screenshots.py minus_one`.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
OUT = ROOT / "docs" / "screenshots"
SIZE = (1400, 900)


def _pump_until(app, cond, timeout_s: float = 120.0) -> None:
    """Run `app`'s events until `cond()` holds or `timeout_s` passes."""
    end = time.time() + timeout_s
    while not cond() and time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from vmic import virtual_microphone

    from musicdesk.app.main_window import MainWindow
    from musicdesk.app.settings import AppSettings
    from musicdesk.audio import save_take
    from musicdesk.resources import example_take_path
    from musicdesk.score import example_score_path
    from musicdesk.synth import render_notes
    from musicdesk.simulate import perform

    app = QApplication.instance() or QApplication([])
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp()

    def wait_for(signal, timeout_s=120):
        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()

    def pump(seconds):
        end = time.time() + seconds
        while time.time() < end:
            app.processEvents()
            time.sleep(0.01)

    def shot(win, name):
        pump(0.5)
        win.grab().save(str(OUT / name))
        print("wrote", OUT / name)

    settings = AppSettings(count_in_beats=0, takes_dir=tmp)
    with virtual_microphone() as mic:
        win = MainWindow(settings=settings, settings_org="musicdesk-screenshots")
        win.resize(*SIZE)
        win.show()
        shot(win, "empty.png")
        win.open_score(example_score_path())
        wait_for(win.score_shown)
        while win.warming:
            pump(0.1)
        shot(win, "score.png")
        notes, _ = perform(win.score.notes, lead_s=0.0, last=20)
        wav = os.path.join(tmp, "take.wav")
        save_take(render_notes(notes, "clarinet", sr=44100), wav)
        win.start_recording()
        proc = mic.play(wav)
        pump(9.0)
        shot(win, "recording.png")
        proc.wait(timeout=60)
        win.stop()
        win.close()
    win = MainWindow(settings=settings, settings_org="musicdesk-screenshots")
    win.resize(*SIZE)
    win.show()
    win.open_score(example_score_path(), take=example_take_path())
    wait_for(win.analysis_shown)
    shot(win, "results.png")
    win.close()


BACH10_02 = ROOT.parent / "shared" / "data" / "bach10" / "02-AchLiebenChristen" / "02-AchLiebenChristen"


def bach10_take() -> None:
    """A professional take in the window: Bach10 chorale 02, the violin, against its MIDI score."""
    if not BACH10_02.with_suffix(".mid").is_file():
        print("no Bach10 data here: skipping bach10-02-violin-after.png")
        return
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from musicdesk.app.main_window import MainWindow
    from musicdesk.app.settings import AppSettings

    app = QApplication.instance() or QApplication([])
    win = MainWindow(settings=AppSettings(), settings_org="musicdesk-screenshots")
    win.resize(*SIZE)
    win.show()
    win.open_score(str(BACH10_02.with_suffix(".mid")), part=0, take=f"{BACH10_02}-violin.flac")
    loop = QEventLoop()
    win.analysis_shown.connect(loop.quit)
    QTimer.singleShot(120000, loop.quit)
    loop.exec()
    end = time.time() + 0.5
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)
    win.grab().save(str(OUT / "bach10-02-violin-after.png"))
    print("wrote", OUT / "bach10-02-violin-after.png")
    win.close()


def melody_lab() -> None:
    """The melody lab window on the bundled example's part: bar 2 made busier with the note density
    slider, bars 4-5 inpainted (candidates listed, the first saying why), bar 3 selected; the notation
    with note names (melody_lab.png) and the piano roll (melody_lab_roll.png)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from musicdesk.app.melody_panel import MelodyLabWindow
    from musicdesk.score import example_score_path

    app = QApplication.instance() or QApplication([])
    OUT.mkdir(parents=True, exist_ok=True)
    win = MelodyLabWindow(practice_score=lambda: (example_score_path(), 0))
    win.resize(*SIZE)
    win.show()
    win.use_practice_score()
    p = win.panel

    pump_until = partial(_pump_until, app)

    p.select([2])
    s = p.sliders["note_density"]
    s.sliderPressed.emit()
    s.setValue(int(0.8 * s.maximum()))
    s.sliderReleased.emit()
    pump_until(lambda: not p.busy)
    p.select([4, 5])
    p.inpaint()
    pump_until(lambda: p.cand_list.count() > 0)
    p.select([3])
    p.names_check.setChecked(True)
    pump_until(lambda: p.notation is not None and "Bb4" in "".join(p.score_view.engraving().pages))
    pump_until(lambda: False, 0.8)
    win.grab().save(str(OUT / "melody_lab.png"))
    print("wrote", OUT / "melody_lab.png")
    p.views.setCurrentIndex(1)
    pump_until(lambda: False, 0.5)
    win.grab().save(str(OUT / "melody_lab_roll.png"))
    print("wrote", OUT / "melody_lab_roll.png")
    win.close()


def history() -> None:
    """The history panel over six takes of the example score (a store in a temporary folder)."""
    import datetime as dt

    tmp = tempfile.mkdtemp()
    os.environ["MUSICDESK_DB"] = str(Path(tmp) / "history.sqlite3")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from musicdesk.analysis import analyze
    from musicdesk.app.main_window import MainWindow
    from musicdesk.app.settings import AppSettings
    from musicdesk.audio import load_take, save_take
    from musicdesk.history.keep import store_for
    from musicdesk.history.records import analysis_record
    from musicdesk.score import example_score_path, load_score
    from musicdesk.simulate import Errors, perform
    from musicdesk.synth import render_notes

    app = QApplication.instance() or QApplication([])
    score = load_score(example_score_path())
    store = store_for(None)
    who, piece = store.person("Anna"), store.piece(score.source_path, score.part, score.title)
    teacher = store.person("Ms Berg", "teacher")
    t0 = dt.datetime(2026, 11, 2, 16, 30, tzinfo=dt.timezone.utc)
    plans = [({8: 3, 9: 2, 20: -1, 27: 1}, {15}), ({8: 3, 20: -1, 27: 1}, set()), ({8: 3, 27: 1}, set()),
             ({27: 1}, set()), ({27: 1}, set()), ({}, set())]
    for k, (wrong, missed) in enumerate(plans):
        errors = Errors(wrong_midi={i: score.notes[i].midi + d for i, d in wrong.items()}, missed=frozenset(missed))
        notes, _ = perform(score.notes, errors, tempo_factor=1.0 - 0.02 * (k % 3))
        path = Path(tmp) / f"take{k}.wav"
        save_take(render_notes(notes, "flute"), path)
        a = analyze(score, load_take(str(path)))
        when = t0 + dt.timedelta(days=3 * k + (k % 2))
        tid = store.save_take(who, piece, path, record=analysis_record(a), recorded_at=when)
        store.add_practice(who, piece, 600 + 240 * k, when=when)
        if k in (0, 3):
            store.grade(tid, teacher, "pitch", 5 + k, 10)
            store.release_grades(tid, teacher)
    win = MainWindow(settings=AppSettings(count_in_beats=0, takes_dir=tmp, student_name="Anna", assess_model="none"),
                     settings_org="musicdesk-screenshots")
    win.resize(1400, 1000)
    win.show()

    pump_until = partial(_pump_until, app)

    win.open_score(example_score_path())
    pump_until(lambda: win.score is not None and not win.warming)
    win.open_history()
    panel = win.history_panel
    pump_until(lambda: panel.history is not None and len(panel.history.takes) == len(plans)
               and panel.history.bars_loaded)
    opened = []
    panel.take_opened.connect(opened.append)
    panel.take_list.topLevelItem(panel.take_list.topLevelItemCount() - 1).setSelected(True)
    panel.open_selected()
    pump_until(lambda: bool(opened))
    for i, name in enumerate(("takes", "progress", "bars", "practice")):
        panel.tabs.setCurrentIndex(i)
        pump_until(lambda: False, 0.6)
        win.grab().save(str(OUT / f"history-{name}.png"))
        print("wrote", OUT / f"history-{name}.png")
    # History > Compare: the first take against the last
    compared = []
    panel.compared.connect(lambda: compared.append(1))
    panel.take_list.clearSelection()
    first, last = panel.history.takes[0], panel.history.takes[-1]
    panel.compare(str(first.id), str(last.id))
    pump_until(lambda: bool(compared))
    pump_until(lambda: False, 0.6)
    win.grab().save(str(OUT / "history-compare.png"))
    print("wrote", OUT / "history-compare.png")
    # the teacher's review of the second take: a comment on its wrong note, one on bars, grades as a draft
    win.settings.teacher_name = "Ms Berg"
    panel.hide()
    review = win.docks.open_review()
    pump_until(lambda: review.tree.topLevelItemCount() > 0)
    second = str(panel.history.takes[1].id)
    got = []
    review.opened.connect(got.append)
    review.tree.setCurrentItem(review.take_item(second))
    review.open_selected()
    pump_until(lambda: bool(got))
    shown = []
    win.docks.comments.shown.connect(lambda: shown.append(1))
    for kind, text, where in (("note", "B flat here, not D flat: sing the step from the A before "
                                       "it first.", score.notes[8].element_id),
                              ("bars", "The second line: one breath, and let the long notes sing.", None)):
        if where:
            win.score_view.note_clicked.emit(where)
        else:
            review.pin_buttons["bars"].setChecked(True)
            review.bar_from.setValue(5)
            review.bar_to.setValue(8)
        review.comment_edit.setText(text)
        n = len(shown)
        review.add_comment()
        pump_until(lambda: len(shown) > n)
    review.grade_spins["pitch"].setValue(6)
    review.grade_spins["rhythm"].setValue(8)
    review.grade_spins["tone"].setValue(7.5)
    graded = []
    review.graded.connect(lambda: graded.append(1))
    review.save_grades(release=False)
    pump_until(lambda: bool(graded) and "Draft" in review.grade_status.text())
    pump_until(lambda: False, 0.6)
    win.grab().save(str(OUT / "history-review.png"))
    print("wrote", OUT / "history-review.png")
    # View > Assignments: one made from the open score, being practised (bars 5-8, its tempo, Loop on)
    review.hide()
    ap = win.docks.open_assignments()
    ap.new_assignment("Week 4: the second line", (5, 8), 88.0,
                      dt.datetime(2026, 12, 11, 23, 59, tzinfo=dt.timezone.utc), ["pitch", "rhythm", "tone"], 10.0,
                      "Slowly first, at 88; breathe only at the end of bar 6. Record it three times and send me the "
                      "best two.")
    pump_until(lambda: len(ap.rows) == 1)
    ap.list.setCurrentItem(ap.list.topLevelItem(0))
    practising = []
    ap.practising.connect(practising.append)
    ap.practise_selected()
    pump_until(lambda: bool(practising))
    pump_until(lambda: False, 0.6)
    win.grab().save(str(OUT / "history-assignments.png"))
    print("wrote", OUT / "history-assignments.png")
    win.close()


def stems() -> None:
    """Tools > Stems on a real ensemble recording (the Bach10 chorale 01 mixture and its four-part MIDI,
    when ../shared/data is there; else a rendered duo): four lanes, the violin muted (what a violinist
    plays along with), bars 3-5 chosen for a loop (stems.png); then the bassoon's stem judged against the
    bassoon part in the practice window (stems-part-report.png)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from musicdesk.app import stems_panel
    from musicdesk.app.main_window import MainWindow
    from musicdesk.app.settings import AppSettings

    app = QApplication.instance() or QApplication([])
    OUT.mkdir(parents=True, exist_ok=True)
    bach = ROOT.parent / "shared" / "data" / "bach10" / "01-AchGottundHerr"
    tmp = Path(tempfile.mkdtemp())
    if bach.is_dir():
        score, audio = bach / "01-AchGottundHerr.mid", bach / "01-AchGottundHerr.flac"
    else:
        import numpy as np
        import soundfile as sf
        from test_separate import SR, TUNE_A, _midi_file, _perform

        score = _midi_file(tmp / "duo.mid", TUNE_A)
        mix, _s, _o = _perform(TUNE_A, lead_s=1.0, stretch=0.1, rng=np.random.default_rng(5))
        audio = tmp / "duo.wav"
        sf.write(audio, mix, SR)

    pump_until = partial(_pump_until, app)

    main = MainWindow(AppSettings(count_in_beats=0, takes_dir=str(tmp)), "musicdesk-screenshots")
    main.resize(*SIZE)
    main.show()
    main.nav.open_score(str(score))
    pump_until(lambda: main.session.loaded is not None)
    win = stems_panel.show_for(main)
    win.resize(1400, 820)
    win.set_recording(str(audio))
    win.start_separation()
    pump_until(lambda: win.ens is not None)
    win.lanes[0].mute.setChecked(True)
    win.bar_from.setValue(3)
    win.bar_to.setValue(5)
    win.loop_check.setChecked(True)
    a, _b = win.play_span_s()
    for lane in win.lanes:
        lane.cursor.setPos(a)
    pump_until(lambda: False, 0.8)
    win.grab().save(str(OUT / "stems.png"))
    print("wrote", OUT / "stems.png")
    win.lanes[-1].act_report.trigger()
    last = win.ens.parts[-1]
    pump_until(lambda: main.session.analysis is not None and main.session.score.part == last)
    pump_until(lambda: False, 1.5)
    main.grab().save(str(OUT / "stems-part-report.png"))
    print("wrote", OUT / "stems-part-report.png")
    win.close()
    main.close()


def minus_one() -> None:
    """Minus-one on a real player: the Bach10 01 score open on the violin part, Take > "Minus-one from
    the score" (the other three parts rendered); the take is the real violin recording with that
    accompaniment reaching the microphone through a simulated speaker and room (-6 dB, 60 ms late), as
    it would without headphones; it is judged with the accompaniment taken out (minus-one.png).
    (Not the recording's own stems: they hold a little of this very violinist, which a live player's
    take would not.)"""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    from PySide6.QtWidgets import QApplication
    from scipy.signal import fftconvolve

    from musicdesk.app.main_window import MainWindow
    from musicdesk.app.minus_one import cleaned_take_job
    from musicdesk.app.settings import AppSettings
    from musicdesk.audio import load_take
    from training.room import impulse_response

    app = QApplication.instance() or QApplication([])
    bach = ROOT.parent / "shared" / "data" / "bach10" / "01-AchGottundHerr"
    if not bach.is_dir():
        print("minus-one.png needs ../shared/data/bach10")
        return
    tmp = Path(tempfile.mkdtemp())

    pump_until = partial(_pump_until, app)

    main = MainWindow(AppSettings(count_in_beats=0, takes_dir=str(tmp)), "musicdesk-screenshots")
    main.resize(*SIZE)
    main.show()
    main.nav.open_score(str(bach / "01-AchGottundHerr.mid"))
    pump_until(lambda: main.session.loaded is not None)
    mo = main.takes.minus_one
    mo.act_from_score.trigger()
    pump_until(lambda: mo.active)
    violin = load_take(str(bach / "01-AchGottundHerr-violin.flac"))
    played = mo.acc.samples
    rng = np.random.default_rng(4)
    ir = np.concatenate([np.zeros(int(0.06 * violin.sr)), impulse_response(violin.sr, rng, 0.5, 4.0)])
    echo = fftconvolve(played, ir)[:len(played)]
    n = min(len(echo), len(violin.samples))
    x = violin.samples[:n]
    echo = echo[:n] * np.sqrt(np.mean(x ** 2) / np.mean(echo[:n] ** 2)) * 10 ** (-6 / 20)
    mic = (x + echo).astype(np.float32)
    main.takes._cleaned(cleaned_take_job(mic, violin.sr, "", played, 0.05))
    pump_until(lambda: main.session.analysis is not None)
    pump_until(lambda: False, 1.5)
    main.grab().save(str(OUT / "minus-one.png"))
    print("wrote", OUT / "minus-one.png")
    main.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["melody"]:
        melody_lab()
    elif sys.argv[1:] == ["history"]:
        history()
    elif sys.argv[1:] == ["bach10"]:
        bach10_take()
    elif sys.argv[1:] == ["stems"]:
        stems()
    elif sys.argv[1:] == ["minus_one"]:
        minus_one()
    else:
        main()
        melody_lab()
        bach10_take()
        history()
        stems()
        minus_one()
