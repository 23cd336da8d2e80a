"""`musicdesk history ...`, `analyze --save` and `calibrate --from-history` (issue 18)."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from musicdesk.cli import main
from musicdesk.history.store import Store
from tests.test_history_store import ROOT, SCORE, record, tone_file

TAKE = ROOT / "resources" / "takes" / "example-take.flac"


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "h.sqlite3"
    monkeypatch.setenv("MUSICDESK_DB", str(path))
    monkeypatch.setenv("MUSICDESK_STUDENT", "Anna")
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_analyze_save_then_list_show_comment_grade_and_release(db, capsys):
    rc, out, _ = run(capsys, "analyze", SCORE, TAKE, "--save", "--assess", "none")
    assert rc == 0 and "Saved in the practice history as take" in out
    rc, out, _ = run(capsys, "history", "takes", "--json")
    [t] = json.loads(out)
    assert t["student"] == "Anna" and t["n_notes"] == 35 and t["n_correct"] == 33
    take = t["id"][:8]
    rc, out, _ = run(capsys, "analyze", SCORE, TAKE, "--save", "--assess", "none", "--quiet")
    assert rc == 0 and len(json.loads(run(capsys, "history", "takes", "--json")[1])) == 1   # the same take
    rc, out, _ = run(capsys, "history", "comment", take, "this G again", "--author", "Ms Lee", "--note", "p0m2n2")
    assert rc == 0
    assert run(capsys, "history", "grade", take, "--grader", "Ms Lee", "--criterion", "pitch", "--value", "8")[0] == 0
    assert "1 grade(s) released" in run(capsys, "history", "release", take, "--grader", "Ms Lee")[1]
    rc, out, _ = run(capsys, "history", "show", take)
    assert "bar 2, beat 3: G4 wrong note (A4)  [p0m2n2]" in out
    assert "grade pitch: 8/10 by Ms Lee (released)" in out and "on notes p0m2n2: this G again" in out
    shown = json.loads(run(capsys, "history", "show", take, "--json")[1])
    assert len(shown["notes"]) == 35 and shown["comments"][0]["note_ids"] == ["p0m2n2"]
    people = run(capsys, "history", "people")[1]
    assert "student  Anna" in people and "teacher  Ms Lee" in people
    assert "Zwei Koenigskinder (Melody)" in run(capsys, "history", "pieces")[1]


def test_export_import_progress_compare_report_trash(db, tmp_path, capsys):
    s = Store(db)
    anna, piece = s.person("Anna"), s.piece(SCORE, "Melody", "Zwei Koenigskinder")
    a = s.save_take(anna, piece, tone_file(tmp_path / "a.wav"), record=record(wrong=(1, 2)))
    b = s.save_take(anna, piece, tone_file(tmp_path / "b.wav", hz=330), record=record(wrong=(5,)))
    s.close()
    rc, out, _ = run(capsys, "history", "compare", str(a)[:8], str(b)[:8])
    assert rc == 0 and "2 notes better, 1 worse" in out and "bar 1, beat 3: N1  wrong note (N1) -> right" in out
    prog = json.loads(run(capsys, "history", "progress", "--student", "Anna", "--piece", "koenig", "--json")[1])
    assert {t["id"] for t in prog["takes"]} == {str(a), str(b)}
    assert prog["takes"][0]["bars"]["1"]["right_share"] == 0.5 and prog["takes"][1]["bars"]["3"]["right_share"] == 0.5
    bundle = tmp_path / "sub.zip"
    assert run(capsys, "history", "export", bundle, "--student", "Anna", "--kind", "submission")[0] == 0
    assert zipfile.is_zipfile(bundle)
    other = tmp_path / "teacher.sqlite3"
    out = run(capsys, "history", "--db", other, "import", bundle, bundle)[1]
    assert "2 takes" in out and "nothing new (already imported)" in out
    assert run(capsys, "history", "report", "--student", "Anna", "--piece", "Zwei", "--csv", tmp_path / "r.csv",
               "--pdf", tmp_path / "r.pdf")[0] == 0
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert rows[0].startswith("take,recorded_at") and len(rows) == 1 + 2 * 4
    pdf = (tmp_path / "r.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"/Count 2" in pdf                    # two pages
    assert run(capsys, "history", "trash", str(a)[:8])[0] == 0
    assert str(a)[:8] in run(capsys, "history", "takes", "--trash")[1]
    assert run(capsys, "history", "restore", str(a)[:8])[0] == 0
    assert run(capsys, "history", "backup", tmp_path / "backup.zip")[0] == 0


def test_bad_input_gets_one_line_and_exit_2(db, capsys):
    rc, _, err = run(capsys, "history", "show", "zzz")
    assert rc == 2 and "is not a take id" in err
    rc, _, err = run(capsys, "history", "takes", "--piece", "nothing")
    assert rc == 2 and "No piece matches 'nothing'" in err
    rc, _, err = run(capsys, "history", "import", db.parent / "missing.zip")
    assert rc == 2 and "Bundle not found" in err
    rc, _, err = run(capsys, "history", "takes", "--since", "last week")
    assert rc == 2 and "YYYY-MM-DD" in err


def _graded_store(db, tmp_path, n: int):
    from musicdesk.assess import DISPLAY_NAMES

    s = Store(db)
    anna, piece, lee = s.person("Anna"), s.piece(SCORE, "Melody"), s.person("Ms Lee", "teacher")
    rng = np.random.default_rng(0)
    for i in range(n):
        quality = i / max(1, n - 1)
        rec = record(wrong=tuple(range(int(6 * (1 - quality)))), network={"pitch": quality, "rhythm": 0.5})
        rec["network_model"] = DISPLAY_NAMES["siconvnet_delta"]
        rec["network_embedding"] = list(rng.normal(size=8))
        take = s.save_take(anna, piece, tone_file(tmp_path / f"g{i}.wav", hz=200 + 20 * i), record=rec)
        s.grade(take, lee, "pitch", round(2 + 8 * quality), 10, released=True)
    s.close()


def test_calibrate_from_the_history_learns_from_released_grades(db, tmp_path, capsys):
    _graded_store(db, tmp_path, 8)
    out = tmp_path / "cal.json"
    rc, text, err = run(capsys, "calibrate", "--from-history", "--grader", "Ms Lee", "--out", out)
    assert rc == 0, err
    assert "from 8 released grades" in text and "pitch" in text and out.is_file()


def test_calibrate_from_the_history_refuses_too_few_grades(db, tmp_path, capsys):
    _graded_store(db, tmp_path, 3)
    rc, _, err = run(capsys, "calibrate", "--from-history", "--out", tmp_path / "cal.json")
    assert rc == 2 and "at least 4 graded takes" in err
    rc, _, err = run(capsys, "calibrate")
    assert rc == 2 and "--from-history" in err


def test_an_assignment_goes_to_the_student_and_the_submission_and_feedback_come_back(db, tmp_path, capsys):
    """The whole exchange as files, between two stores (the teacher's, the student's), by the CLI alone."""
    teacher, student = ["--db", tmp_path / "teacher.sqlite3"], ["--db", tmp_path / "student.sqlite3"]
    assigned = tmp_path / "assignment.zip"
    rc, out, _ = run(capsys, "history", *teacher, "assign", "Week 3: the first line", "--teacher", "Ms Lee",
                     "--piece", SCORE, "--bars", "1-4", "--tempo", "80", "--due", "2026-12-11",
                     "--criteria", "pitch,rhythm", "--scale", "5", "--instructions", "Slowly, and breathe at bar 4.",
                     "--out", assigned)
    assert rc == 0 and "assignment" in out and assigned.exists()

    out = run(capsys, "history", *student, "import", assigned)[1]
    assert "assignment: " in out and "1 assignments" in out
    [a] = json.loads(run(capsys, "history", *student, "assignments", "--student", "Anna", "--json")[1])
    assert (a["title"], a["part"], a["bars"], a["tempo_bpm"], a["criteria"], a["scale_max"], a["takes"]) == \
        ("Week 3: the first line", "Melody", [1, 4], 80.0, ["pitch", "rhythm"], 5.0, 0)
    assert a["due"].startswith("2026-12-11") and a["instructions"] == "Slowly, and breathe at bar 4."
    text = run(capsys, "history", *student, "assignments")[1]
    assert "bars 1-4, 80 bpm, due 2026-12-11; graded on pitch, rhythm out of 5; 0 take(s)" in text

    # the student opens the assignment's score (the same bytes: the same piece), records and submits
    rc, out, _ = run(capsys, "history", *student, "score", "--assignment", a["id"][:8], "--out", tmp_path / "got")
    got = tmp_path / "got" / SCORE.name
    assert rc == 0 and got.read_bytes() == SCORE.read_bytes() and "(part Melody)" in out
    rc, out, _ = run(capsys, "analyze", got, TAKE, "--save", *student, "--assignment", a["id"][:8],
                     "--assess", "none", "--quiet")
    assert rc == 0
    assert json.loads(run(capsys, "history", *student, "assignments", "--json")[1])[0]["takes"] == 1
    submission = tmp_path / "submission.zip"
    assert "a submission of 1 take(s)" in run(capsys, "history", *student, "submit", a["id"][:8], submission)[1]

    # the teacher sees it under the assignment, grades it on the assignment's criteria, and sends feedback
    assert "submission: " in run(capsys, "history", *teacher, "import", submission)[1]
    assert "1 take(s)" in run(capsys, "history", *teacher, "assignments")[1]
    [take] = json.loads(run(capsys, "history", *teacher, "takes", "--json")[1])
    tid = take["id"][:8]
    for crit, v in (("pitch", "4"), ("rhythm", "3.5")):
        assert run(capsys, "history", *teacher, "grade", tid, "--grader", "Ms Lee", "--criterion", crit,
                   "--value", v, "--scale", "5", "--release")[0] == 0
    assert run(capsys, "history", *teacher, "comment", tid, "this G again", "--author", "Ms Lee",
               "--note", "p0m2n2")[0] == 0
    feedback = tmp_path / "feedback.zip"
    assert run(capsys, "history", *teacher, "export", feedback, "--take", tid, "--kind", "feedback")[0] == 0
    assert "feedback: " in run(capsys, "history", *student, "import", feedback)[1]
    shown = run(capsys, "history", *student, "show", tid)[1]
    assert "grade pitch: 4/5 by Ms Lee (released)" in shown and "on notes p0m2n2: this G again" in shown
    assert "nothing new" in run(capsys, "history", *student, "import", feedback)[1]     # idempotent


def test_assignments_refuse_what_does_not_fit(db, tmp_path, capsys):
    s = Store(db)
    anna, ben, piece = s.person("Anna"), s.person("Ben"), s.piece(SCORE, "Melody", "Zwei Koenigskinder")
    other = s.piece(ROOT / "resources" / "scores" / "example_tune.abc", "Melody", "Example tune")
    teacher = s.person("Ms Lee", "teacher")
    for_anna = s.assign(teacher, piece, "Only Anna", student=anna)
    bens = s.save_take(ben, piece, tone_file(tmp_path / "b.wav"), record=record())
    with pytest.raises(Exception, match="another student"):
        s.submit(for_anna, [bens])
    elsewhere = s.save_take(anna, other, tone_file(tmp_path / "o.wav", hz=330), record=record())
    with pytest.raises(Exception, match="another piece"):
        s.submit(for_anna, [elsewhere])
    assert [a.title for a in s.assignments(ben)] == []          # not Ben's
    assert [a.title for a in s.assignments(anna)] == ["Only Anna"]
    for kw, match in ((dict(title=" "), "title"), (dict(criteria=[]), "criterion"), (dict(scale_max=0), "scale"),
                      (dict(bars=(5, 2)), "Bars 5-2"), (dict(tempo_bpm=1000), "out of range")):
        args = {"title": "x", **kw}
        with pytest.raises(ValueError, match=match):
            s.assign(teacher, piece, args.pop("title"), **args)
    s.close()
    rc, _, err = run(capsys, "history", "submit", str(for_anna)[:8], tmp_path / "s.zip")
    assert rc == 2 and "No takes are recorded for this assignment yet" in err
    rc, _, err = run(capsys, "history", "score", "--assignment", "nothing-like-it")
    assert rc == 2 and "No assignment matches" in err


def test_practice_time_not_recorded_as_a_take_is_counted(db, tmp_path, capsys):
    s = Store(db)
    anna, piece = s.person("Anna"), s.piece(SCORE, "Melody", "Zwei Koenigskinder")
    s.save_take(anna, piece, tone_file(tmp_path / "a.wav"), record=record())   # a 1 s take
    s.close()
    out = run(capsys, "history", "practice", "--student", "Anna", "--piece", "Zwei", "--add", "12")[1]
    assert "total 12.0 min over 1 day(s)" in out
    rc, _, err = run(capsys, "history", "practice", "--student", "Anna", "--add", "-3", "--piece", "Zwei")
    assert rc == 2 and "more than 0" in err
