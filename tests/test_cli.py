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
