"""View > Teacher review and View > Assignments (issue 19): a teacher opens a student's take, pins a
comment on a note (it shows on the score and in the problems list), grades as a draft and then
releases, exports feedback, calibrates from their grades; assignments made, exported, imported,
practised with their bars and tempo, and submitted; and the dialogs for a corrupt bundle and one from a
newer musicdesk."""
from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from musicdesk.app.history_panel import grade_text  # noqa: E402
from musicdesk.app.main_window import MainWindow  # noqa: E402
from musicdesk.app.settings import AppSettings  # noqa: E402
from musicdesk.history import review  # noqa: E402
from musicdesk.history.bundle import export_bundle, import_bundle  # noqa: E402
from musicdesk.history.keep import store_for  # noqa: E402
from musicdesk.history.store import Store  # noqa: E402
from musicdesk.score import example_score_path  # noqa: E402
from tests.test_history_panel import WRONG, seed, two_takes  # noqa: E402,F401 - two_takes: a fixture
from tests.test_history_store import SCORE, record, tone_file  # noqa: E402

ORG = "musicdesk-tests-review"
OTHER_SCORE = str(Path(example_score_path()).parent / "example_tune.abc")


def window(qtbot, tmp_path, score: str | None = None, **settings) -> MainWindow:
    st = {"count_in_beats": 0, "takes_dir": str(tmp_path), "assess_model": "none", **settings}
    w = MainWindow(settings=AppSettings(**st), settings_org=ORG)
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.score_shown, timeout=60000):
        w.open_score(score or example_score_path())
    qtbot.waitUntil(lambda: not w.warming, timeout=60000)
    return w


def open_review(win, qtbot):
    with qtbot.waitSignal(win.docks.open_review().loaded, timeout=30000):
        pass
    return win.docks.review_panel


def graded_takes(store, folder, n: int, teacher: str, first: int = 0, total: int = 12, version: str = "1") -> list:
    """n of `total` takes of Anna's, rated by the network (synthetic analyses, better and better from
    take 0), each with the teacher's released pitch grade following that quality; `version`: the
    analyses' network_version (the weights' fingerprint, or an app version as before 2026-12-07)."""
    from musicdesk.assess import DISPLAY_NAMES

    anna, piece, who = store.person("Anna"), store.piece(SCORE, "Melody"), store.person(teacher, "teacher")
    out = []
    for i in range(first, first + n):
        q = i / (total - 1)
        rec = record(wrong=tuple(range(int(6 * (1 - q)))), network={"pitch": q, "rhythm": 0.5})
        rec["network_model"] = DISPLAY_NAMES["siconvnet_delta"]
        rec["network_embedding"] = list(np.random.default_rng(i).normal(size=8))
        rec["network_version"] = version
        take = store.save_take(anna, piece, tone_file(folder / f"g{i}.wav", hz=200 + 20 * i), record=rec)
        store.grade(take, who, "pitch", round(2 + 8 * q), 10, released=True)
        out.append(take)
    return out


# ---------------------------------------------------------------------- the core
def test_feedback_bundles_carry_released_grades_only_and_comments_pin_where_they_were_put(tmp_path):
    teacher_store, student_store = Store(tmp_path / "t.sqlite3"), Store(tmp_path / "s.sqlite3")
    anna, piece = teacher_store.person("Anna"), teacher_store.piece(SCORE, "Melody")
    lee = teacher_store.person("Ms Lee", "teacher")
    take = teacher_store.save_take(anna, piece, tone_file(tmp_path / "a.wav"), record=record())
    sub = export_bundle(teacher_store, tmp_path / "sub.zip", [take], kind="submission")
    import_bundle(student_store, sub)
    # two rounds of grading: a draft, released, changed as a draft, released again; then a new draft
    assert review.save_grades(teacher_store, take, lee, {"pitch": 6, "tone": None}, 10) == 1
    assert review.save_grades(teacher_store, take, lee, {"pitch": 6}, 10) == 0          # unchanged: not stored
    review.save_grades(teacher_store, take, lee, {"pitch": 6}, 10, release=True)
    review.save_grades(teacher_store, take, lee, {"pitch": 7}, 10, release=True)
    review.save_grades(teacher_store, take, lee, {"pitch": 9}, 10)                      # a draft: stays here
    teacher_store.comment(take, lee, "this note again", note_ids=["n3"])
    teacher_store.comment(take, lee, "the second line", bars=(2, 3))
    teacher_store.comment(take, lee, "rushed here", times_s=(1.4, 2.1))
    teacher_store.comment(take, lee, "lovely tone")
    mine = review.feedback(teacher_store, take, released_only=False, grader=lee)
    assert [(g.criterion, g.value, g.status) for g in mine.grades] == [("pitch", 9.0, "draft")]
    fb = export_bundle(teacher_store, tmp_path / "fb.zip", [take], kind="feedback")
    with zipfile.ZipFile(fb) as z:
        grades = json.loads(z.read("data.json"))["grades"]
    assert [(g["value"], g["status"]) for g in grades] == [(6.0, "released"), (7.0, "released")]
    assert grades[1]["supersedes_id"] == grades[0]["id"]          # the chain kept, without the drafts
    r = import_bundle(student_store, fb)
    assert r.added["grades"] == 2 and r.added["comments"] == 4
    seen = review.feedback(student_store, take)
    assert [(g.criterion, g.value, g.status, g.grader) for g in seen.grades] == [("pitch", 7.0, "released", "Ms Lee")]
    assert student_store.takes()[0].grades == {"pitch": (7.0, 10.0, "released")}

    class Note:                       # the score notes `pins` needs: id, measure, beat, name, midi
        def __init__(self, i):
            self.id, self.measure, self.beat, self.name, self.midi = f"n{i}", 1 + i // 2, 1.0 + 2 * (i % 2), f"N{i}", 60 + i

    class Rep:
        notes = [type("R", (), {"id": f"n{i}", "onset_s": 0.5 * i})() for i in range(8)]

    score = type("S", (), {"notes": [Note(i) for i in range(8)]})()
    pins = review.pins(seen, score, Rep)
    assert [(p.where, p.note_ids) for p in pins] == [
        ("bar 2, beat 3, N3", ("n3",)), ("bars 2-3", ("n2",)), ("0:01.4-0:02.1", ("n3", "n4")),
        ("the whole take", ())]
    assert import_bundle(student_store, fb).anything_new is False        # twice is once


def test_calibration_refuses_too_few_grades_and_reports_cross_validated_r2(tmp_path):
    s = Store(tmp_path / "h.sqlite3")
    lee = s.person("Ms Lee", "teacher")
    assert review.calibrate_from_store(s, "siconvnet_delta", lee).calibration is None
    takes = graded_takes(s, tmp_path, 3, "Ms Lee")
    few = review.calibrate_from_store(s, "siconvnet_delta", lee)
    assert few.calibration is None and "at least 4 graded takes" in few.message
    for take in takes[:2]:
        s.grade(take, lee, "tone", 5, 10, released=True)
    graded_takes(s, tmp_path, 9, "Ms Lee", first=3)
    res = review.calibrate_from_store(s, "siconvnet_delta", lee)
    rows = {c: (n, r2) for c, n, r2 in res.rows}
    assert rows["tone"] == (2, None) and rows["pitch"][0] == 12 and rows["pitch"][1] > 0.5
    assert set(res.calibration.criteria) == {"pitch"} and "Cross-validated R²" in res.message


def test_calibration_learns_only_from_takes_rated_by_the_current_weights(tmp_path):
    """Takes rated by another training of the network (another weights fingerprint) are left out, and
    the message says how many; takes stored before the fingerprint was recorded count; the calibration
    records the weights it was made on."""
    from musicdesk.assess.weights import weights_id, weights_path

    s = Store(tmp_path / "h.sqlite3")
    lee = s.person("Ms Lee", "teacher")
    current = weights_id(weights_path("siconvnet_delta"))
    assert len(current) == 12 and current != "0123456789ab"
    graded_takes(s, tmp_path, 6, "Ms Lee", version="0123456789ab")     # rated by other weights
    only_old = review.calibrate_from_store(s, "siconvnet_delta", lee)
    assert only_old.calibration is None and "6 released grades are on takes rated by other weights" in only_old.message
    graded_takes(s, tmp_path, 3, "Ms Lee", first=6, version=current)
    graded_takes(s, tmp_path, 3, "Ms Lee", first=9, version="0.1.0")    # stored before: cannot say, counts
    res = review.calibrate_from_store(s, "siconvnet_delta", lee)
    rows = {c: (n, r2) for c, n, r2 in res.rows}
    assert rows["pitch"][0] == 6 and "6 released grades were left out" in res.message
    assert res.calibration.weights_id == current


# ---------------------------------------------------------------------- the teacher's review
def test_teacher_opens_a_take_comments_on_a_note_grades_draft_then_released(qtbot, tmp_path, two_takes):
    score, takes = two_takes
    store, ids = seed(score, takes)
    # the teacher's window shows another score: opening the take opens its piece first
    win = window(qtbot, tmp_path, score=OTHER_SCORE,
                 teacher_mode=True, teacher_name="Ms Berg")
    panel = win.docks.review_panel
    assert panel is not None and panel.isVisible()         # teacher mode: the review is open at start
    if panel.tree.topLevelItemCount() == 0:
        with qtbot.waitSignal(panel.loaded, timeout=30000):
            panel.refresh()
    top = panel.tree.topLevelItem(0)
    assert top.text(0).startswith("Anna  (2 takes, 1 not graded)")
    piece = top.child(0)
    assert piece.childCount() == 2 and "draft" in piece.child(0).text(3)          # the teacher sees drafts
    panel.tree.setCurrentItem(panel.take_item(str(ids[0])))
    with qtbot.waitSignal(panel.opened, timeout=90000):
        panel.open_button.click()
    from musicdesk.history.reopen import piece_key

    assert piece_key(win.score.source_path, win.score.part) == piece_key(score.source_path, score.part)
    assert win.session.stored_take_id == str(ids[0])
    assert win.categories[score.notes[WRONG].id] == "wrong_pitch"
    assert panel.comment_button.isEnabled()
    # no note chosen: it says so; then click the wrong note on the score, type, Enter
    panel.comment_edit.setText("this note again: listen for the third")
    panel.add_comment()
    assert "Click the note" in win.last_error
    wrong = score.notes[WRONG]
    win.score_view.note_clicked.emit(wrong.element_id)
    assert f"bar {wrong.measure}" in panel.note_label.text()
    r = win.analysis.report.notes[WRONG]
    assert abs(panel.time_from.value() - r.onset_s) < 0.06 and panel.bar_from.value() == wrong.measure
    # the take's own first fetch of comments, started when it opened, may still announce itself after
    # the comment is sent: wait for the comment itself to be drawn
    panel.comment_edit.returnPressed.emit()
    qtbot.waitUntil(lambda: "this note again" in win.score_view.comment_marks().get(wrong.element_id, ""),
                    timeout=30000)
    assert "Ms Berg" in win.score_view.comment_marks()[wrong.element_id]
    lines = win.results.comment_lines()
    assert len(lines) == 1 and lines[0].startswith(f"Ms Berg, bar {wrong.measure}, beat") and "this note again" in lines[0]
    assert win.problem_list.item(0).text() == lines[0]                # first in the problems list
    win.results.problem_clicked(win.problem_list.item(0))              # ... and it selects its note
    assert f"Bar {wrong.measure}" in win.details.text()
    assert panel.comment_list.count() == 1
    # a comment on bars
    panel.pin_buttons["bars"].setChecked(True)
    panel.bar_from.setValue(2)
    panel.bar_to.setValue(3)
    panel.comment_edit.setText("the second line: one breath")
    panel.comment_button.click()
    qtbot.waitUntil(lambda: any(t.startswith("Ms Berg, bars 2-3:") for t in win.results.comment_lines()),
                    timeout=30000)
    # ... shades those bars on the score, with its text as their tooltip (the loop's shading is apart)
    assert [(a, b) for a, b, _ in win.score_view.comment_bars()] == [(2, 3)]
    shaded = win.score_view.comment_bar_items()
    assert len(shaded) == 2 and all("one breath" in it.toolTip() for it in shaded)
    eng = win.score_view.engraving()
    k = eng.px_per_unit(win.score_view.current_page())
    assert sorted(round(it.rect().x()) for it in shaded) == sorted(round(eng.measure_bbox(m)[1] * k) for m in (2, 3))
    # a comment on a time of the take: on the notes played then
    panel.pin_buttons["time"].setChecked(True)
    panel.time_from.setValue(r.onset_s - 0.02)
    panel.time_to.setValue(r.onset_s + 0.02)
    panel.comment_edit.setText("rushed into this one")
    panel.comment_button.click()
    qtbot.waitUntil(lambda: "rushed into this one" in win.score_view.comment_marks().get(wrong.element_id, ""),
                    timeout=30000)
    # ... and shades that stretch of the piano roll
    assert win.results.roll.comment_spans() == [pytest.approx((panel.time_from.value(), panel.time_to.value()))]
    # grades on the teacher's rubric: a draft the student does not see, then released
    assert list(panel.grade_spins) == ["pitch", "rhythm", "intonation", "tone"]
    assert panel.grade_spins["pitch"].value() == 6                    # released before by Ms Berg
    panel.grade_spins["pitch"].setValue(5)
    panel.grade_spins["tone"].setValue(8)
    with qtbot.waitSignal(panel.graded, timeout=30000):
        panel.draft_button.click()
    qtbot.waitUntil(lambda: "Draft" in panel.grade_status.text(), timeout=10000)
    student_view = {r.id: r for r in store.takes()}[ids[0]].released
    assert grade_text(student_view) == "pitch 6/10"                   # still the released one
    assert review.feedback(store, ids[0]).grades[0].value == 6
    with qtbot.waitSignal(panel.graded, timeout=30000):
        panel.release_button.click()
    student_view = {r.id: r for r in store.takes()}[ids[0]].released
    assert grade_text(student_view) == "pitch 5/10, tone 8/10"
    # feedback for Anna's takes: comments and released grades
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
    assert set(panel.feedback_takes()) == {str(i) for i in ids}
    out = tmp_path / "feedback.zip"
    with qtbot.waitSignal(panel.exported, timeout=30000):
        panel.export_feedback(str(out), panel.feedback_takes())
    with zipfile.ZipFile(out) as z:
        data = json.loads(z.read("data.json"))
    assert len(data["comments"]) == 3 and {g["status"] for g in data["grades"]} == {"released"}
    # calibration from the window: too few grades, refused and said so
    win.settings.assess_model = "siconvnet_delta"
    with qtbot.waitSignal(panel.calibrated, timeout=30000):
        panel.calibrate_button.click()
    assert "released grades" in panel.calibration_box.text() or "Too few" in panel.calibration_box.text()
    assert len(panel.calibration_box.buttons()) == 1                  # no "Use it"


def test_a_corrupt_bundle_and_one_from_a_newer_musicdesk_get_a_dialog_and_change_nothing(qtbot, tmp_path, two_takes):
    score, takes = two_takes
    store, ids = seed(score, takes)
    win = window(qtbot, tmp_path)
    good = export_bundle(store, tmp_path / "good.zip", [ids[0]], kind="submission")
    bad = tmp_path / "bad.zip"
    data = bytearray(good.read_bytes())
    k = data.find(b"data.json", 100)
    data[k + 200:k + 260] = b"\x00" * 60                               # a damaged member
    bad.write_bytes(bytes(data))
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    newer = tmp_path / "newer.zip"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(newer, "w") as zout:
        for item in zin.infolist():
            body = zin.read(item)
            if item.filename == "manifest.json":
                m = json.loads(body)
                m["format_version"] = 99
                body = json.dumps(m).encode()
            zout.writestr(item, body)
    before = len(store.takes()), len(review.feedback(store, ids[0]).comments)
    for path, words in ((junk, "not a musicdesk bundle"), (newer, "newer musicdesk"), (bad, "damaged")):
        win.session.last_error = None
        win.docks.import_files([str(path)])
        qtbot.waitUntil(lambda: win.session.last_error is not None, timeout=30000)
        assert words in win.session.last_error, win.session.last_error
    assert (len(store.takes()), len(review.feedback(store, ids[0]).comments)) == before
    from PySide6.QtWidgets import QMessageBox

    titles = {b.windowTitle() for b in win.findChildren(QMessageBox)}
    assert "Cannot import the bundle" in titles


# ---------------------------------------------------------------------- assignments
def test_an_assignment_made_exported_imported_practised_with_its_bars_and_tempo_and_submitted(qtbot, tmp_path,
                                                                                               two_takes):
    score, takes = two_takes
    teacher = window(qtbot, tmp_path / "t", history_db=str(tmp_path / "teacher.sqlite3"), teacher_name="Ms Berg")
    ap = teacher.docks.open_assignments()
    qtbot.waitUntil(lambda: "No assignments" in ap.details.text(), timeout=30000)
    assert ap.new_button.isEnabled() and not ap.export_button.isEnabled()
    import datetime as dt

    ap.new_assignment("Week 3: the second line", (3, 5), 72.0, dt.datetime(2026, 12, 11, 23, 59).astimezone(),
                      ["pitch", "rhythm"], 5.0, "Slowly; breathe at bar 4.")
    qtbot.waitUntil(lambda: len(ap.rows) == 1, timeout=30000)
    assert ap.list.topLevelItemCount() == 1 and ap.list.topLevelItem(0).text(2) == "3-5"
    ap.list.setCurrentItem(ap.list.topLevelItem(0))
    aid = ap.selected_id()
    out = tmp_path / "assignment.zip"
    with qtbot.waitSignal(ap.exported, timeout=30000):
        ap.export_assignment(aid, str(out))

    # the student's machine: another store; their window shows another score
    student = window(qtbot, tmp_path / "s", score=OTHER_SCORE,
                     history_db=str(tmp_path / "student.sqlite3"), student_name="Anna")
    with qtbot.waitSignal(student.docks.bundles_imported, timeout=30000):
        student.docks.import_files([str(out)])
    sp = student.docks.assignments_panel
    qtbot.waitUntil(lambda: sp.list.topLevelItemCount() == 1, timeout=30000)
    sp.list.setCurrentItem(sp.list.topLevelItem(0))
    assert "Slowly; breathe at bar 4." in sp.details.text() and "pitch, rhythm out of 5" in sp.details.text()
    with qtbot.waitSignal(sp.practising, timeout=60000):
        sp.practise_button.click()
    assert student.score.source_path.endswith("default_example_melody.musicxml")
    assert student.nav.loop_bars() == (3, 5) and student.nav.looping and abs(student.score.tempo_bpm - 72) < 0.5
    assert student.session.assignment_id == aid and "practising it" in sp.details.text()
    # a take kept while practising is played for the assignment
    sstore = store_for(str(tmp_path / "student.sqlite3"))
    from musicdesk.history.keep import keep_take

    path, analysis = takes[0]
    tid = keep_take(str(tmp_path / "student.sqlite3"), "Anna", student.score.source_path, student.score.part,
                    "", path, analysis, assignment=aid)
    assert sstore.takes()[0].assignment_id == uuid.UUID(aid)
    sub = tmp_path / "submission.zip"
    with qtbot.waitSignal(sp.exported, timeout=30000):
        sp.submit(aid, [str(tid)], str(sub))
    # the teacher imports the submission: the review opens on it
    with qtbot.waitSignal(teacher.docks.bundles_imported, timeout=30000):
        teacher.docks.import_files([str(sub)])
    rp = teacher.docks.review_panel
    assert rp is not None and rp.isVisible()
    qtbot.waitUntil(lambda: rp.tree.topLevelItemCount() == 1, timeout=30000)
    tstore = store_for(str(tmp_path / "teacher.sqlite3"))
    [row] = tstore.submitted(uuid.UUID(aid))
    assert row.id == tid and row.student == "Anna"
    assert review.rubric_for(tstore, tid).criteria == ("pitch", "rhythm")


def test_calibrate_from_my_grades_in_the_window_shows_the_cross_validated_r2(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from musicdesk.assess import calibrate

    graded_takes(store_for(None), tmp_path, 12, "Ms Berg")
    win = window(qtbot, tmp_path, teacher_name="Ms Berg")
    panel = open_review(win, qtbot)
    win.settings.assess_model = "siconvnet_delta"
    with qtbot.waitSignal(panel.calibrated, timeout=30000):
        panel.calibrate_button.click()
    box = panel.calibration_box
    assert "Cross-validated R²" in box.text() and "<td>pitch</td><td align=right>12</td>" in box.text()
    use = next(b for b in box.buttons() if b.text() == "Use it")
    saved = tmp_path / "calibration.json"
    monkeypatch.setattr(calibrate, "default_path", lambda: saved)
    use.click()
    assert saved.is_file() and "pitch" in json.loads(saved.read_text())["criteria"]
    assert isinstance(box, QMessageBox)


def test_dropping_a_submission_on_the_review_imports_it(qtbot, tmp_path, two_takes):
    from PySide6.QtCore import QMimeData, QUrl

    score, takes = two_takes
    src = Store(tmp_path / "student.sqlite3")
    who, piece = src.person("Anna"), src.piece(score.source_path, score.part, score.title)
    from musicdesk.history.records import analysis_record

    tid = src.save_take(who, piece, takes[0][0], record=analysis_record(takes[0][1]))
    sub = export_bundle(src, tmp_path / "submission.zip", [tid], kind="submission")
    win = window(qtbot, tmp_path / "teacher", teacher_mode=True, teacher_name="Ms Berg")
    panel = win.docks.review_panel

    class Drop:                       # what dropEvent reads of a QDropEvent
        def __init__(self, paths):
            self.data = QMimeData()
            self.data.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])

        def mimeData(self):  # noqa: N802 - Qt API
            return self.data

        def acceptProposedAction(self):  # noqa: N802 - Qt API
            pass

    panel.dropEvent(Drop([sub]))
    qtbot.waitUntil(lambda: panel.take_item(str(tid)) is not None, timeout=30000)
    panel.dropEvent(Drop([tmp_path / "notes.txt"]))
    assert "Drop musicdesk bundles" in win.session.last_error


def test_the_new_assignment_dialog_gives_the_store_its_fields(qtbot):
    import datetime as dt

    from musicdesk.app.assignments_panel import AssignmentDialog

    dlg = AssignmentDialog(None, "Zwei Koenigskinder, bars 3-5", (5, 3), 88.0, "pitch, rhythm, tone", 5.0)
    qtbot.addWidget(dlg)
    dlg.instructions.setPlainText("  Slowly first.  ")
    v = dlg.values()
    assert (v["title"], v["bars"], v["tempo_bpm"], v["criteria"], v["scale_max"], v["instructions"]) == \
        ("Zwei Koenigskinder, bars 3-5", (3, 5), 88.0, ["pitch", "rhythm", "tone"], 5.0, "Slowly first.")
    assert v["due"].tzinfo is not None and v["due"].date() == dt.date.today() + dt.timedelta(days=7)


def test_with_the_review_open_the_take_summary_is_whole_and_the_score_stays_above_it(qtbot, tmp_path):
    """The teacher-review screenshot cut the ratings box's summary off mid-line: with the review docked
    below, the right-hand column was squeezed. It now scrolls instead, every line of the summary shows,
    the window keeps the size asked for, and the dock opens at under half of it."""
    win = window(qtbot, tmp_path)
    win.resize(1400, 1000)
    summary = win.results.ratings_box.summary_label
    summary.setText("32 of 35 notes right, 3 wrong, 0 missed, 0 extra; median 3 cents off; played at about "
                    "98 bpm; 0 early, 0 late\n⚠ a warning on a second line that wraps over the width of "
                    "the column")
    open_review(win, qtbot)
    qtbot.wait(200)
    assert win.height() <= 1000
    assert summary.height() >= summary.heightForWidth(summary.width())
    dock = win.docks.review_panel
    assert dock.height() < 0.5 * win.height() and win.score_view.height() > 150
