"""Start the window: `musicdesk [SCORE] [--part P] [--take AUDIO] [--screenshot PNG]`."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="musicdesk", description="musicdesk: record a take against a score and "
                                "see every note judged. Commands: analyze, parts, demo (see musicdesk analyze -h).")
    p.add_argument("score", nargs="?", help="score to open (MusicXML, MXL, MIDI, ABC); default: the bundled example")
    p.add_argument("--part", help="part name or 0-based index")
    p.add_argument("--take", help="audio file to open as a take and analyse")
    p.add_argument("--screenshot", metavar="PNG", help="save the window once everything is drawn, then quit")
    p.add_argument("--size", default="1400x900", help="window size for --screenshot (WxH)")
    return p


NO_DISPLAY_MESSAGE = ("musicdesk: no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is "
                      "set). Start it from a desktop session, or over ssh with X forwarding (ssh -X). Without "
                      "a display, `musicdesk analyze SCORE TAKE` gives the same report on the command line; "
                      "QT_QPA_PLATFORM=offscreen runs the window invisibly (for --screenshot).")


def display_problem(env: dict | None = None) -> str | None:
    """Why the window cannot be shown here, or None. Qt aborts the process (exit 134, a core dump and a
    misleading message about xcb-cursor0) when it finds no display, so this is checked first. Only on
    Linux and the BSDs: macOS and Windows always have their own platform."""
    env = os.environ if env is None else env
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    if env.get("QT_QPA_PLATFORM") or env.get("WAYLAND_DISPLAY"):
        return None
    display = env.get("DISPLAY", "")
    if not display:
        return NO_DISPLAY_MESSAGE
    # a local X display (":N" or ":N.S") is a socket in /tmp/.X11-unix; a remote one (ssh -X) is not checked
    if display.startswith(":"):
        number = display[1:].split(".")[0]
        if number.isdigit() and not os.path.exists(f"/tmp/.X11-unix/X{number}"):
            return (f"musicdesk: the display {display} (DISPLAY) is not running: no X server answers there. "
                    "Start musicdesk from your desktop session (its terminal sets DISPLAY), or set DISPLAY to a "
                    "display that is running; `musicdesk analyze SCORE TAKE` needs no display.")
    return None


def _launch_probe(win, path: str) -> None:
    """For benchmarks/bench_launch.py: write the wall-clock times (time.time(), s) at which the window
    was first painted and Record became enabled to `path` as JSON, then close the window."""
    import json
    import time

    from PySide6.QtCore import QEvent, QObject, QTimer

    times: dict[str, float] = {}

    class FirstPaint(QObject):
        def eventFilter(self, obj, ev):  # noqa: N802 - Qt API
            if ev.type() == QEvent.Type.Paint and "window_shown" not in times:
                times["window_shown"] = time.time()
            return False

    def check() -> None:
        if "record_enabled" not in times and win.act_record.isEnabled():
            times["record_enabled"] = time.time()
            with open(path, "w") as f:
                json.dump(times, f)
            QTimer.singleShot(0, win.close)

    win._first_paint = FirstPaint(win)
    win.installEventFilter(win._first_paint)
    win.session.changed.connect(check)


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = display_problem()
    if problem and not args.screenshot:
        print(problem, file=sys.stderr)
        return 2
    if problem:   # a screenshot needs no screen
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QThreadPool, QTimer
    from PySide6.QtWidgets import QApplication

    from musicdesk.app.main_window import MainWindow
    from musicdesk.score import example_score_path

    for path in (args.score, args.take):
        if path and not os.path.exists(path):
            print(f"musicdesk: error: {path} does not exist", file=sys.stderr)
            return 2
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("musicdesk")
    app.setOrganizationName("musicdesk")
    win = MainWindow()
    if args.screenshot:
        w, h = (int(v) for v in args.size.lower().split("x"))
        win.resize(w, h)
    win.show()
    part = int(args.part) if args.part and args.part.isdigit() else args.part
    status = {"rc": 0}
    if args.screenshot:
        def shoot():
            app.processEvents()
            ok = win.grab().save(args.screenshot)
            if not ok:
                print(f"musicdesk: error: cannot write {args.screenshot}", file=sys.stderr)
                status["rc"] = 1
            win.close()
            app.quit()

        def later():
            if win.warming:  # the window as the user sees it once ready (Record enabled)
                QTimer.singleShot(100, later)
            else:
                QTimer.singleShot(400, shoot)

        (win.analysis_shown if args.take else win.score_shown).connect(later)
        # a failed load still produces a screenshot (of the message) rather than hanging
        QTimer.singleShot(120000, shoot)
    if os.environ.get("MUSICDESK_LAUNCH_LOG"):
        _launch_probe(win, os.environ["MUSICDESK_LAUNCH_LOG"])
    win.open_score(args.score or example_score_path(), part=part, take=args.take)
    rc = app.exec()
    QThreadPool.globalInstance().waitForDone(30000)  # let background work end before Python shuts down
    if "musicdesk.assess.predict" in sys.modules:    # the network's child process, if one was started
        sys.modules["musicdesk.assess.predict"].stop_loading()
    return status["rc"] or rc
