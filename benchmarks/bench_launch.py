"""Launch times of the window, as a user meets them: `musicdesk` started in a fresh process, to the
window's first paint, and to Record enabled (the example score engraved and the analysis code loaded).

    .venv/bin/python benchmarks/bench_launch.py [--runs 7] [--baseline COMMIT] [--display offscreen|xvfb]

The process reports its own times through MUSICDESK_LAUNCH_LOG (musicdesk.app.main); the clock starts
just before the process is spawned, so interpreter start-up and every import count. With --baseline,
that commit (a git worktree) is launched in turn with the same probe (a small driver that does what its
`musicdesk` did), interleaved with ours, since this machine's speed drifts over a day.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

# the old window had no probe: this driver does what its `musicdesk` did, with the same probe
DRIVER = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
from musicdesk.app.main_window import MainWindow
from musicdesk.score import example_score_path
app = QApplication([sys.argv[0]])
times = {}
win = MainWindow()
class FirstPaint(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and "window_shown" not in times:
            times["window_shown"] = time.time()
        return False
fp = FirstPaint(win)
win.installEventFilter(fp)
def check():
    if "record_enabled" not in times and win.act_record.isEnabled():
        times["record_enabled"] = time.time()
        json.dump(times, open(os.environ["MUSICDESK_LAUNCH_LOG"], "w"))
        win.close(); app.quit()
poll = QTimer(); poll.setInterval(5); poll.timeout.connect(check); poll.start()
win.show()
win.open_score(example_score_path())
app.exec()
"""


def launch(cmd: list[str], env: dict) -> dict:
    """Wall-clock seconds from spawning `cmd` to the window's first paint and to Record enabled."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "launch.json"
        env = dict(env, MUSICDESK_LAUNCH_LOG=str(log))
        t0 = time.time()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, check=True)
        times = json.loads(log.read_text())
    return {k: v - t0 for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--baseline", default="e669209", help="commit to compare with ('' for none)")
    ap.add_argument("--display", choices=("offscreen", "xvfb"), default="offscreen")
    args = ap.parse_args()
    env = dict(os.environ)
    xvfb = None
    if args.display == "xvfb":
        xvfb = subprocess.Popen(["Xvfb", ":87", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        env["DISPLAY"] = ":87"
        env.pop("QT_QPA_PLATFORM", None)
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
    settings_home = tempfile.mkdtemp()            # a fresh user: default settings, nothing recent
    env["XDG_CONFIG_HOME"] = settings_home
    ours = [sys.executable, "-m", "musicdesk"]
    base_dir = None
    if args.baseline:
        base_dir = Path(tempfile.mkdtemp()) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(base_dir), args.baseline],
                       check=True)
        driver = base_dir / "launch_driver.py"
        driver.write_text(DRIVER)
    runs: dict[str, list[dict]] = {"ours": [], "baseline": []}
    try:
        launch(ours, env)                          # first run: fill numba's and the OS's caches
        if base_dir:
            launch([sys.executable, str(driver), str(base_dir)], env)
        for _ in range(args.runs):
            runs["ours"].append(launch(ours, env))
            if base_dir:
                runs["baseline"].append(launch([sys.executable, str(driver), str(base_dir)], env))
    finally:
        if xvfb:
            xvfb.terminate()
        if base_dir:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_dir)], check=False)
        shutil.rmtree(settings_home, ignore_errors=True)

    def med(which: str, key: str) -> float | None:
        vals = [r[key] for r in runs[which]]
        return statistics.median(vals) if vals else None

    t_py = min(_time_of([sys.executable, "-c", "pass"]) for _ in range(3))
    data = {"date": datetime.date.today().isoformat(), "display": args.display, "runs": args.runs,
            "baseline": args.baseline, "python_pass_s": t_py, "ours": runs["ours"], "baseline_runs": runs["baseline"],
            "window_shown_s": med("ours", "window_shown"), "record_enabled_s": med("ours", "record_enabled"),
            "baseline_window_shown_s": med("baseline", "window_shown"),
            "baseline_record_enabled_s": med("baseline", "record_enabled")}
    from make_results import write_section

    def fmt(v):
        return "-" if v is None else f"{v:.2f}"

    def rng(which, key):
        vals = [r[key] for r in runs[which]]
        return f"{min(vals):.2f}-{max(vals):.2f}" if vals else "-"

    ok1 = data["window_shown_s"] < 1.0
    ok2 = data["record_enabled_s"] < 2.5
    md = f"""## Launch: `musicdesk` to the window, and to Record enabled

Command: `.venv/bin/python benchmarks/bench_launch.py --runs {args.runs} --baseline {args.baseline or "''"} --display {args.display}`  
Machine: 2-core CPU, no GPU; date {data['date']}; Qt platform: {args.display}; `python -c pass` {t_py:.3f} s (the machine's speed of the day).  
A fresh process each time, clock started before it is spawned, a fresh user's settings (the bundled example opens); the first launch of each (numba's and the OS's caches filled) is not counted. Runs interleaved with the baseline, commit {args.baseline or '-'} (before the window was split and its slow imports moved behind it).

| | window painted (s) | Record enabled (s) |
| --- | --- | --- |
| musicdesk now, median of {args.runs} (range) | **{fmt(data['window_shown_s'])}** ({rng('ours', 'window_shown')}) | **{fmt(data['record_enabled_s'])}** ({rng('ours', 'record_enabled')}) |
| baseline {args.baseline or '-'}, median (range) | {fmt(data['baseline_window_shown_s'])} ({rng('baseline', 'window_shown')}) | {fmt(data['baseline_record_enabled_s'])} ({rng('baseline', 'record_enabled')}) |

- Targets: window under 1 s -> **{'MET' if ok1 else 'NOT MET'}**; Record enabled under 2.5 s -> **{'MET' if ok2 else 'NOT MET'}**.
- What changed: the window paints before pyqtgraph (the piano roll), music21 (the score) and numba (the analysis) load; a worker imports pyqtgraph and then the analysis code, and the roll appears when its module is there. The network loads in its own process (musicdesk.assess.preload), so the window's process never imports torch.
"""
    write_section("launch", data, md)
    print(md)


def _time_of(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
