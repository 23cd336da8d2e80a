"""Drive the real window under an X server (Xvfb, with openbox as window manager when installed) through
the main flows, as a new user would, and save what the screen shows into docs/screenshots/x11-*.png:

    .venv/bin/python docs/drive_window.py

x11-1-open.png (the example score just opened), x11-2-take.png (File > Examples > the example with its
take: coloured notes, ratings, problems), x11-3-problem.png (a problem clicked: details and cursor),
x11-4-tuner.png (Tools > Tuner listening to its own drone through a virtual microphone),
x11-5-metronome.png (recording with the metronome clicking through the take), x11-8-loop.png (a loop
recording over bars 2-3: two passes, each a take, in the Pass box), x11-6-help.png (Help >
Colours and ratings), x11-7-transposing.png (the B-flat clarinet example, a note's details in written
pitch). Keys are pressed on the X display (xdotool, when installed; else the action is triggered), a
problem is clicked with the mouse (QTest), menus are triggered as clicked.
Everything is grabbed from the X screen, dialogs included. Needs Xvfb (packaging/setup.sh installs it).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
OUT = ROOT / "docs" / "screenshots"
DISPLAY = ":93"
SIZE = (1400, 900)


def start_x() -> list[subprocess.Popen]:
    if not shutil.which("Xvfb"):
        sys.exit("drive_window: Xvfb is not installed (packaging/setup.sh installs it)")
    procs = [subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    time.sleep(1.0)
    os.environ["DISPLAY"] = DISPLAY
    os.environ.pop("QT_QPA_PLATFORM", None)          # the real xcb platform, not offscreen
    if shutil.which("openbox"):
        procs.append(subprocess.Popen(["openbox"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)
    return procs


def main() -> None:
    procs = start_x()
    try:
        run()
    finally:
        for p in reversed(procs):
            p.terminate()


def run() -> None:
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from vmic import virtual_microphone

    app = QApplication.instance() or QApplication([sys.argv[0]])
    OUT.mkdir(parents=True, exist_ok=True)

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.01)

    def wait_for(signal, timeout_s: float = 120.0) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()

    def until(cond, timeout_s: float = 60.0) -> None:
        end = time.monotonic() + timeout_s
        while not cond() and time.monotonic() < end:
            pump(0.05)

    def press(key: str, action) -> None:
        """A key pressed on the X display (xdotool), as a user does; the action itself without xdotool."""
        if shutil.which("xdotool"):
            win.activateWindow()
            pump(0.3)
            subprocess.run(["xdotool", "key", "--window", str(int(win.winId())), key], check=False)
            pump(0.3)
            if key == "r" and win.recorder is not None or key == "space" and win.recorder is None:
                return
        action.trigger()
        pump(0.2)

    def shoot(name: str) -> None:
        pump(0.6)
        img = app.primaryScreen().grabWindow(0)         # the whole X screen: window and dialogs
        img.save(str(OUT / name))
        print("saved", OUT / name)

    from musicdesk.app.main_window import MainWindow
    from musicdesk.app.settings import AppSettings
    from musicdesk.score import example_score_path

    with virtual_microphone() as mic, tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(count_in_beats=2, takes_dir=tmp, metronome_in_take=True)
        win = MainWindow(settings=settings, settings_org="musicdesk-drive")
        win.resize(*SIZE)
        win.move(0, 0)
        win.show()
        win.open_score(example_score_path())
        wait_for(win.score_shown)
        until(lambda: not win.warming)
        shoot("x11-1-open.png")

        win.act_example_take.trigger()                 # File > Examples > ... with a take
        wait_for(win.analysis_shown)
        shoot("x11-2-take.png")

        item = win.problem_list.item(0)
        rect = win.problem_list.visualItemRect(item)
        QTest.mouseClick(win.problem_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        shoot("x11-3-problem.png")

        win.open_tuner()                               # Tools > Tuner: the drone, heard by the tuner
        win.tuner.move(SIZE[0] - 420, 120)
        win.tuner.start_drone(69)
        win.tuner.start_listening()
        until(lambda: win.tuner.reading is not None, 20)
        pump(1.0)
        shoot("x11-4-tuner.png")
        win.tuner.close()

        press("r", win.act_record)                     # Record, with the metronome through the take
        pump(4.0)
        shoot("x11-5-metronome.png")
        print("recording when shot:", win.recorder is not None)
        press("space", win.act_stop)                   # Stop
        wait_for(win.analysis_shown, 60)

        win.help_actions["colours"].trigger()
        win.help_dialog.move(300, 100)
        shoot("x11-6-help.png")
        win.help_dialog.close()

        # Record-loop over bars 2-3 (Loop on): two passes played into the virtual microphone, the second
        # with a wrong note; each pass a take, listed in the Pass box
        import numpy as np

        from musicdesk.loop_takes import excerpt
        from musicdesk.simulate import Errors, perform
        from musicdesk.synth import render_notes
        from vmic import VMIC_SR

        win.settings.metronome_in_take = False
        win.loop_from.setValue(2)
        win.loop_to.setValue(3)
        win.loop_check.setChecked(True)
        ex = excerpt(win.score, 2, 3)
        press("r", win.act_record)
        plan = win.takes.loop.plan
        audio = np.zeros(int((plan.bars_start_s(2) + 1.0) * VMIC_SR), dtype=np.float32)
        for k, errs in enumerate((Errors(), Errors(wrong_midi={4: ex.notes[4].midi + 2}))):
            notes, _ = perform(ex.notes, errs, lead_s=plan.bars_start_s(k))
            x = render_notes(notes, "flute", sr=VMIC_SR).samples[:len(audio)]
            audio[:len(x)] += x
        mic.play(audio)
        until(lambda: len(win.takes.loop.passes) == 2, 40)
        press("space", win.act_stop)
        until(lambda: all(p.analysis is not None or p.error for p in win.takes.loop.passes), 120)
        pump(1.0)
        shoot("x11-8-loop.png")
        win.loop_check.setChecked(False)

        win.open_score(str(Path(example_score_path()).parent / "example_transposing.musicxml"))
        wait_for(win.score_shown)
        win.select_note(win.score.notes[1].id)
        shoot("x11-7-transposing.png")
        win.close()
        pump(0.5)


if __name__ == "__main__":
    main()
