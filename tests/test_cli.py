"""The command line contract: `musicdesk analyze SCORE AUDIO [--part] [--tempo] [--json]`, errors as one line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicdesk.audio import save_take
from musicdesk.score import example_score_path, load_score
from musicdesk.simulate import Errors, perform
from musicdesk.synth import render_notes

EXE = [sys.executable, "-m", "musicdesk.cli"]


def cli(*args, cwd=None):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(EXE + list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def take_with_errors(tmp_path_factory):
    score = load_score(example_score_path())
    i = len(score.notes) // 2
    while score.notes[i].midi in (score.notes[i - 1].midi, score.notes[i + 1].midi):
        i += 1
    notes, _ = perform(score.notes, Errors(wrong_midi={i: score.notes[i].midi + 3}))
    path = tmp_path_factory.mktemp("take") / "take.wav"
    save_take(render_notes(notes, "flute"), path)
    return str(path), i


def test_analyze_json_contract(tmp_path, take_with_errors):
    take, wrong_index = take_with_errors
    out = tmp_path / "r.json"
    res = cli("analyze", example_score_path(), take, "--json", str(out))
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    notes = data["notes"]
    assert [n["index"] for n in notes] == list(range(len(notes)))
    for n in notes:
        assert {"id", "index", "measure", "beat", "expected_midi", "status", "played_midi", "cents",
                "onset_s", "offset_s", "timing_error_ms"} <= set(n)
    assert [n["index"] for n in notes if n["status"] != "correct"] == [wrong_index]
    assert set(data["ratings"]) >= {"note_accuracy", "rhythmic_accuracy", "intonation"}
    assert all(0.0 <= v <= 1.0 for v in data["ratings"].values())
    assert data["extra_notes"] == []
    # the readable report names the bar and beat of the wrong note
    bad = notes[wrong_index]
    line = next(ln for ln in res.stdout.splitlines() if "wrong note" in ln)
    assert line.split()[0] == str(bad["measure"])


def test_tempo_and_part_options(tmp_path, take_with_errors):
    take, _ = take_with_errors
    out = tmp_path / "r.json"
    res = cli("analyze", example_score_path(), take, "--part", "0", "--tempo", "60", "--json", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    assert json.loads(out.read_text())["score"]["tempo_bpm"] == 60


@pytest.mark.parametrize("case", ["missing_score", "bad_score", "bad_audio", "silent", "bad_part", "bad_tempo",
                                  "unwritable_json"])
def test_bad_input_is_one_line_and_exit_2(tmp_path, take_with_errors, case):
    take, _ = take_with_errors
    score = example_score_path()
    bad_score = tmp_path / "broken.musicxml"
    bad_score.write_text("<score-partwise><part id='P1'><measure>")
    bad_audio = tmp_path / "broken.wav"
    bad_audio.write_bytes(b"RIFF....garbage")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(22050 * 2), 22050)
    args = {
        "missing_score": ["analyze", str(tmp_path / "nope.musicxml"), take],
        "bad_score": ["analyze", str(bad_score), take],
        "bad_audio": ["analyze", score, str(bad_audio)],
        "silent": ["analyze", score, str(silent)],
        "bad_part": ["analyze", score, take, "--part", "Tuba of Doom"],
        "bad_tempo": ["analyze", score, take, "--tempo", "0"],
        "unwritable_json": ["analyze", score, take, "--json", str(tmp_path / "no" / "such" / "dir.json")],
    }[case]
    res = cli(*args)
    assert res.returncode == 2, (res.stdout, res.stderr)
    err = res.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith("musicdesk: error:")


def test_a_broken_score_is_said_first_when_the_take_is_broken_too(tmp_path):
    """The score is read in another process while the take is tracked; its error still comes first."""
    bad_score = tmp_path / "broken.musicxml"
    bad_score.write_text("<score-partwise><part id='P1'><measure>")
    bad_audio = tmp_path / "broken.wav"
    bad_audio.write_bytes(b"RIFF....garbage")
    res = cli("analyze", str(bad_score), str(bad_audio))
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "broken.musicxml" in res.stderr and "broken.wav" not in res.stderr, res.stderr


def test_demo_finds_the_mistakes_recorded_in_the_bundled_take(tmp_path):
    """`musicdesk demo` (what ./run.sh shows before the window exists) on the bundled take, whose
    mistakes are listed in resources/takes/example-take.truth.json."""
    from musicdesk.cli import main
    from musicdesk.resources import example_take_path

    truth = json.loads(open(example_take_path().replace(".flac", ".truth.json")).read())
    out = tmp_path / "demo.json"
    assert main(["demo", "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    by = {s: [n["index"] for n in rep["notes"] if n["status"] == s] for s in ("wrong_pitch", "missed")}
    assert by["wrong_pitch"] == [int(k) for k in truth["wrong_pitch"]]
    assert by["missed"] == truth["missed"]
    assert [n["index"] for n in rep["notes"] if n.get("intonation") in ("sharp", "flat")] == \
        [int(k) for k in truth["detune_cents"]]
    assert [n["index"] for n in rep["notes"] if n.get("timing") in ("early", "late")] == \
        [int(k) for k in truth["late_ms"]]
    assert len(rep["extra_notes"]) == len(truth["extra_after"]) == 1


def test_a_take_of_another_piece_gets_a_warning(tmp_path, capsys):
    """The bundled take (Zwei Koenigskinder) against the bundled ABC tune: a clear question, not just
    a page of red notes."""
    from musicdesk.cli import main
    from musicdesk.resources import example_take_path
    from musicdesk.score import example_score_path

    other = str(Path(example_score_path()).parent / "example_tune.abc")
    out = tmp_path / "r.json"
    assert main(["analyze", other, example_take_path(), "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert any("is this take of the chosen piece" in w for w in rep["warnings"])
    assert "is this take of the chosen piece" in capsys.readouterr().out


# ------------------------------------------------------------------------ start-up and the batch form

def test_importing_the_command_line_and_its_help_loads_no_heavy_library():
    """`musicdesk --help` and the sub-commands' help must not pay for torch, librosa, numba or numpy."""
    code = ("import sys\n"
            "import musicdesk.cli\n"
            "from musicdesk.cli import main\n"
            "for argv in (['--help'], ['analyze', '--help'], ['parts', '--help']):\n"
            "    try:\n"
            "        main(argv)\n"
            "    except SystemExit:\n"
            "        pass\n"
            "print('LOADED', sorted(m for m in ('torch', 'librosa', 'numba', 'numpy', 'scipy', 'music21')"
            " if m in sys.modules))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "--json-dir" in res.stdout
    assert res.stdout.strip().splitlines()[-1] == "LOADED []"


def test_batch_form_writes_one_json_per_take_and_goes_on_past_a_bad_take(tmp_path, take_with_errors):
    take, wrong_index = take_with_errors
    (tmp_path / "other").mkdir()
    same_name = tmp_path / "other" / "take.wav"           # the same file name as `take`: a clash
    same_name.write_bytes(Path(take).read_bytes())
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....garbage")
    out = tmp_path / "reports"
    res = cli("analyze", example_score_path(), take, str(broken), str(same_name), "--json-dir", str(out))
    assert res.returncode == 2, (res.stdout, res.stderr)
    # the bad take: one line on stderr naming it; the batch went on
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("musicdesk: error: ") and "broken.wav" in err[0], res.stderr
    assert "Traceback" not in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["take-2.json", "take.json"]
    first, second = (json.loads((out / n).read_text()) for n in ("take.json", "take-2.json"))
    assert first["take"]["path"] == os.path.abspath(take)
    assert second["take"]["path"] == str(same_name)
    for rep in (first, second):     # the single-take JSON contract, per take
        assert [n["index"] for n in rep["notes"] if n["status"] != "correct"] == [wrong_index]
        assert set(rep["ratings"]) >= {"note_accuracy", "rhythmic_accuracy", "intonation"}
        assert rep["assessment"]["model"] == "SIConvNet-Delta"
    assert first["assessment"]["ratings"] == second["assessment"]["ratings"]   # same audio, same ratings
    # the score once, then one table line per take (with its JSON), the failed one marked, and a count
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith("Score: ") and lines[0].endswith("3 takes")
    head = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["take", "correct"])
    rows = [ln for ln in lines[head + 1:] if not ln.startswith("    ")]
    n = len(first["notes"])
    assert rows[0].split()[:2] == ["take.wav", f"{n - 1}/{n}"] and rows[0].endswith(str(out / "take.json"))
    assert rows[1].startswith("broken.wav") and "failed" in rows[1]
    assert rows[2].endswith(str(out / "take-2.json"))
    assert rows[3].startswith("2 of 3 takes analysed")


def test_json_with_several_takes_is_refused(tmp_path, take_with_errors):
    take, _ = take_with_errors
    res = cli("analyze", example_score_path(), take, take, "--json", str(tmp_path / "r.json"))
    assert res.returncode == 2
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("musicdesk: error:") and "--json-dir" in err
    assert not (tmp_path / "r.json").exists()


def test_json_paths_are_named_after_the_takes_and_never_clash():
    from musicdesk.cli import json_paths

    takes = ["a/take.wav", "b/take.wav", "take.flac", "c/Take.mp3", "d/other.ogg"]
    assert [os.path.basename(p) for p in json_paths(takes, "out")] == \
        ["take.json", "take-2.json", "take-3.json", "Take-4.json", "other.json"]


def test_the_command_never_imports_torch_and_rates_as_the_network_in_process(tmp_path, take_with_errors):
    """`analyze` rates without torch in its own process: on a machine with no GPU with the numpy forward
    pass (musicdesk.assess.numpy_net), else in a child process that loads torch while this one tracks
    and aligns; the ratings are those of the torch network run in-process."""
    take, _ = take_with_errors
    out = tmp_path / "r.json"
    code = ("import sys\n"
            "from musicdesk.cli import main\n"
            f"rc = main(['analyze', {example_score_path()!r}, {take!r}, '--json', {str(out)!r}, '--quiet'])\n"
            "print('RC', rc, 'torch' in sys.modules)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data")))
    assert res.stdout.strip().splitlines()[-1] == "RC 0 False", (res.stdout, res.stderr)
    from musicdesk.analysis import analyze
    from musicdesk.assess import DEFAULT_MODEL
    from musicdesk.assess.predict import Assessor, aligned_onsets_s, score_onsets_s, take_frames
    from musicdesk.audio import load_take

    score = load_score(example_score_path())
    an = analyze(score, load_take(take))   # the command gives the network the aligner's onsets too
    local = Assessor(DEFAULT_MODEL).rate(*take_frames(score, an.contour), aligned_onsets_s(an.alignment),
                                         score_onsets_s(score))
    got = json.loads(out.read_text())["assessment"]
    assert got["model"] == local.model
    assert got["ratings"] == {k: round(v, 4) for k, v in local.ratings.items()}


def test_missing_weights_are_reported_through_the_child_process(tmp_path, take_with_errors):
    take, _ = take_with_errors
    out = tmp_path / "r.json"
    env = dict(os.environ, PYTHONWARNINGS="ignore", MUSICDESK_MODELS_DIR=str(tmp_path))
    res = subprocess.run(EXE + ["analyze", example_score_path(), take, "--json", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    a = json.loads(out.read_text())["assessment"]
    assert "No weights" in a["error"]
    assert "Network ratings unavailable: No weights" in res.stdout


def test_the_network_process_rates_as_this_process_would(take_with_errors):
    """The child that loads torch beside the command (used where a GPU may be there) rates exactly as
    the network loaded here."""
    from musicdesk.analysis import analyze
    from musicdesk.assess import DEFAULT_MODEL
    from musicdesk.assess.predict import Assessor, take_frames
    from musicdesk.assess.preload import NetworkProcess
    from musicdesk.audio import load_take

    p = NetworkProcess(DEFAULT_MODEL, "cpu")
    score = load_score(example_score_path())
    frames = take_frames(score, analyze(score, load_take(take_with_errors[0])).contour)
    try:
        got = p.rate(*frames)
        assert p._proc is not None and p._local is None     # rated by the child, not by a fallback
        assert got.ratings == Assessor(DEFAULT_MODEL, "cpu").rate(*frames).ratings
    finally:
        p.close()


def test_a_network_process_that_cannot_start_falls_back_to_this_process(monkeypatch, take_with_errors):
    import subprocess as sp

    from musicdesk.analysis import analyze
    from musicdesk.assess import DEFAULT_MODEL
    from musicdesk.assess.predict import Assessor, take_frames
    from musicdesk.assess.preload import NetworkProcess
    from musicdesk.audio import load_take

    def no_child(*a, **k):
        raise OSError("no processes today")

    monkeypatch.setattr(sp, "Popen", no_child)
    score = load_score(example_score_path())
    frames = take_frames(score, analyze(score, load_take(take_with_errors[0])).contour)
    p = NetworkProcess(DEFAULT_MODEL, "cpu")
    assert p.rate(*frames).ratings == Assessor(DEFAULT_MODEL, "cpu").rate(*frames).ratings
    p.close()


def test_analyze_reference_pitch_and_tuning_remark(tmp_path):
    """--a4 sets the reference pitch (issue 15); a take tuned away from it gets a tuning remark."""
    from musicdesk.audio import save_take
    from musicdesk.score import example_score_path, load_score
    from musicdesk.simulate import Errors, perform
    from musicdesk.synth import render_notes

    score = load_score(example_score_path())
    notes, _ = perform(score.notes, Errors(detune_cents={n.index: 30.0 for n in score.notes}))
    take = tmp_path / "sharp.wav"
    save_take(render_notes(notes, "flute"), take)
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, "-m", "musicdesk", "analyze", example_score_path(), str(take), "--json",
                        str(out), "--assess", "none"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Tuning: You play 3" in r.stdout and "cents sharp overall" in r.stdout
    d = json.loads(out.read_text())
    assert d["summary"]["tuning_offset_cents"] == pytest.approx(30, abs=4) and d["remarks"]
    assert d["ratings"]["note_accuracy"] == 1.0
    r = subprocess.run([sys.executable, "-m", "musicdesk", "analyze", example_score_path(), str(take), "--a4",
                        "1000"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--a4 must be" in r.stderr


def test_the_window_without_a_display_says_what_to_do():
    """Issue 16, 4: `musicdesk` with no display aborted (exit 134, a core dump, "xcb-cursor0 is needed")."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    res = subprocess.run([sys.executable, "-m", "musicdesk"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2, (res.returncode, res.stderr[-500:])
    assert "no display" in res.stderr and "musicdesk analyze" in res.stderr
    assert "xcb" not in res.stderr


def test_the_window_with_a_display_that_is_not_running_says_so():
    """Issue 16, 4: DISPLAY set to a local display with no X server behind it: a message, exit 2 (Qt
    aborted with a core dump)."""
    import os
    import subprocess
    import sys

    n = next(i for i in range(150, 400) if not os.path.exists(f"/tmp/.X11-unix/X{i}"))
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["DISPLAY"] = f":{n}"
    res = subprocess.run([sys.executable, "-m", "musicdesk"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2, (res.returncode, res.stderr[-500:])
    assert f":{n}" in res.stderr and "not running" in res.stderr and "xcb" not in res.stderr


def test_analyze_concert_pitch_names_a_transposing_part_as_it_sounds(tmp_path):
    """Issue 16, 7: `analyze` names a B-flat clarinet's notes at written pitch, `--concert-pitch` as they
    sound; the JSON has both either way. The written E5 (sounds D5) is played a semitone high."""
    path = str(example_score_path()).replace("default_example_melody", "example_transposing")
    score = load_score(path)
    i = next(n.index for n in score.notes if n.name == "E5")
    notes, _ = perform(score.notes, Errors(wrong_midi={i: score.notes[i].midi + 1}))
    take = tmp_path / "clarinet.wav"
    save_take(render_notes(notes, "clarinet"), take)
    out = tmp_path / "r.json"
    base = [sys.executable, "-m", "musicdesk", "analyze", path, str(take), "--assess", "none"]
    r = subprocess.run(base + ["--json", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "E5    wrong note: played F5" in r.stdout and "Names: Note names are at written pitch" in r.stdout
    note = json.loads(out.read_text())["notes"][i]
    assert (note["expected_name"], note["played_name"], note["expected_concert_name"],
            note["played_concert_name"]) == ("E5", "F5", "D5", "Eb5")
    r = subprocess.run(base + ["--concert-pitch"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "D5    wrong note: played Eb5" in r.stdout and "Names: Note names are at concert pitch" in r.stdout
