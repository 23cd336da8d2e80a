"""Opening a student with 500 takes in the window (issue 19): the time from asking for the student's
history to the take list and the progress plot (and the heatmap and practice tabs, drawn with them)
being painted, target < 300 ms; split into the fetch (a worker: musicdesk.history.views.piece_history)
and the drawing (the GUI thread, which is also the longest stall of the event loop it causes). The
same for the teacher's review of the whole store (people > pieces > takes). Beside it, the CLI's
`musicdesk history takes` for the same student: the strongest alternative that lists them here.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_history_window.py [--takes 500] [--repeat 7]

The store (SQLite, in a temporary folder) is bulk-filled by bench_history.fill: one student, TAKES
takes of one 300-note piece (the bundled example's file, so the window's open score is that piece).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--takes", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from bench_history import fill
    from musicdesk.app.main_window import MainWindow
    from musicdesk.app.settings import AppSettings
    from musicdesk.history.store import Store
    from musicdesk.score import example_score_path

    tmp = Path(tempfile.mkdtemp(prefix="bench-history-window-"))
    try:
        db = tmp / "history.sqlite3"
        store = Store(db)
        t = time.perf_counter()
        fill(store, 1, args.takes)
        print(f"store: 1 student, {args.takes} takes of 300 notes, filled in {time.perf_counter() - t:.1f} s")
        store.close()
        app = QApplication.instance() or QApplication([])
        win = MainWindow(settings=AppSettings(assess_model="none", student_name="Student 0", history_db=str(db),
                                              takes_dir=str(tmp)), settings_org="musicdesk-bench")
        win.resize(1400, 1000)
        win.show()
        done = {"score": False}
        win.score_shown.connect(lambda: done.__setitem__("score", True))
        win.open_score(example_score_path())
        while not done["score"] or win.warming:
            app.processEvents()
            time.sleep(0.005)

        def measure(panel, drawn, signals, painted) -> tuple[list[float], float]:
            """([ms from the request to each of `signals` with `painted()` rendered], the longest ms the GUI
            thread spent in one call of `drawn` and the rendering)."""
            stalls, marks = [], []

            def timed_draw(result):
                t_draw = time.perf_counter()
                drawn(result)
                stalls.append(time.perf_counter() - t_draw)

            setattr(panel, drawn.__name__, timed_draw)       # the workers' results come to this one
            t0 = time.perf_counter()
            pending = list(signals)
            hits = []
            for sig in pending:
                sig.connect(lambda _s=sig: hits.append(_s))
            panel.refresh()
            for sig in pending:
                while sig not in hits:
                    app.processEvents()
                    time.sleep(0.0005)
                t_paint = time.perf_counter()
                for w in painted():          # rendered, not only filled (a hidden tab too)
                    w.grab()
                stalls.append(time.perf_counter() - t_paint)
                marks.append(1000 * (time.perf_counter() - t0))
                sig.disconnect()
            delattr(panel, drawn.__name__)
            return marks, 1000 * max(stalls)

        hist = win.docks.open_history()
        while hist.history is None or not hist.history.bars_loaded:
            app.processEvents()
        review = win.docks.open_review()
        while review.tree.topLevelItemCount() == 0:
            app.processEvents()
        hist_runs = [measure(hist, hist.show_history, (hist.listed, hist.loaded),
                             lambda: (hist.take_list, hist.progress_plot, hist.heat_plot))
                     for _ in range(args.repeat + 1)][1:]          # (the first run warms the caches)
        review_runs = [measure(review, review.show_roster, (review.loaded,), lambda: (review.tree,))
                       for _ in range(args.repeat + 1)][1:]
        n_rows = hist.take_list.topLevelItemCount()
        n_points = len(hist.progress_lines["note_accuracy"].getData()[0])
        assert n_rows == args.takes and n_points == args.takes, (n_rows, n_points)
        assert hist.heat_image.image.shape[1] == args.takes
        win.close()

        cli = []
        env = dict(os.environ, MUSICDESK_DB=str(db))
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "musicdesk", "history", "takes", "--student", "Student 0"],
                           env=env, check=True, capture_output=True)
            cli.append(time.perf_counter() - t)

        def fmt(vals):
            return f"median {statistics.median(vals):.0f} ms, max {max(vals):.0f} ms"

        print(f"History panel, {n_rows} takes in the list and {n_points} points per criterion on the plot:")
        print(f"  request to the list and the progress plot painted: {fmt([r[0][0] for r in hist_runs])} "
              "(target < 300 ms)")
        print(f"  request to the heatmap of bars painted as well: {fmt([r[0][1] for r in hist_runs])}")
        print(f"  longest GUI-thread stall (drawing): {fmt([r[1] for r in hist_runs])}")
        print("Teacher review (people > pieces > takes, the whole store):")
        print(f"  request to painted: {fmt([r[0][0] for r in review_runs])}")
        print(f"  longest GUI-thread stall (drawing): {fmt([r[1] for r in review_runs])}")
        print(f"CLI `musicdesk history takes --student` (a fresh process): median {1000 * statistics.median(cli):.0f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
