"""End to end, across two separate stores (the teacher's and the student's user data, as on two
machines), through a real PortAudio input (tests/vmic.py) (issue 19):

the teacher makes an assignment and exports it; the student imports it, practises it, records two takes
through the virtual microphone (the first with a wrong note, the second right) and submits them; the
teacher imports the submission, pins a comment on the wrong note, grades, releases and exports feedback;
the student imports the feedback, opens the first take, and the comment is on that note; the heatmap
shows the bar that improved."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
import soundfile as sf

pytest.importorskip("pytestqt")

from musicdesk.app.history_panel import grade_text  # noqa: E402
from musicdesk.app.main_window import MainWindow  # noqa: E402
from musicdesk.history.keep import store_for  # noqa: E402
from musicdesk.history.views import bar_matrix, most_improved_bars  # noqa: E402
from musicdesk.score import example_score_path, load_score  # noqa: E402
from musicdesk.simulate import Errors, perform  # noqa: E402
from musicdesk.synth import render_notes  # noqa: E402
from tests.test_review_panel import window as review_window  # noqa: E402
from vmic import VMIC_SR, virtual_microphone  # noqa: E402

WRONG = 8


@pytest.fixture(scope="module")
def mic():
    with virtual_microphone() as m:
        yield m


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """Two renderings of the example for the microphone: note WRONG a minor third off, then all right."""
    score = load_score(example_score_path())
    folder = tmp_path_factory.mktemp("played")
    out = []
    for k, errs in enumerate((Errors(wrong_midi={WRONG: score.notes[WRONG].midi + 3}), Errors())):
        notes, _ = perform(score.notes, errs, lead_s=0.5)
        path = folder / f"take{k}.wav"
        sf.write(path, render_notes(notes, "flute", sr=VMIC_SR, tail_s=0.5).samples, VMIC_SR, subtype="PCM_16")
        out.append(str(path))
    return out


def window(qtbot, folder, **settings) -> MainWindow:
    """A window with its own user data: the takes and the history store in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return review_window(qtbot, folder, history_db=str(folder / "history.sqlite3"), **settings)


def record(win, mic, qtbot, path: str) -> str:
    """Record `path` played into the microphone; the id of the take once kept in the history."""
    win.start_recording()
    assert win.recorder is not None
    player = mic.play(path)
    qtbot.waitUntil(lambda: player.poll() is not None, timeout=90000)
    qtbot.wait(700)                                    # the last of the sound reaches the input
    with qtbot.waitSignal(win.history.kept, timeout=120000) as kept:
        win.stop()
    return kept.args[0]


@pytest.mark.timeout(420)
def test_a_submission_goes_to_the_teacher_and_the_comment_comes_back_on_its_note(mic, qtbot, tmp_path, played):
    score = load_score(example_score_path())
    wrong = score.notes[WRONG]
    # ---- the teacher: an assignment on the example's melody, exported
    teacher = window(qtbot, tmp_path / "teacher", teacher_name="Ms Berg")
    ta = teacher.docks.open_assignments()
    ta.new_assignment("Week 1: the whole tune", None, score.tempo_bpm,
                      dt.datetime(2026, 12, 11, 23, 59).astimezone(), ["pitch", "rhythm"], 10.0, "Listen for bar 3.")
    qtbot.waitUntil(lambda: len(ta.rows) == 1, timeout=30000)
    aid = str(ta.rows[0][0].id)
    assigned = tmp_path / "assignment.zip"
    with qtbot.waitSignal(ta.exported, timeout=30000):
        ta.export_assignment(aid, str(assigned))

    # ---- the student: imports it, practises it, records two takes through the microphone, submits
    student = window(qtbot, tmp_path / "student", student_name="Anna")
    with qtbot.waitSignal(student.docks.bundles_imported, timeout=30000):
        student.docks.import_files([str(assigned)])
    sa = student.docks.assignments_panel
    qtbot.waitUntil(lambda: sa.list.topLevelItemCount() == 1, timeout=30000)
    sa.list.setCurrentItem(sa.list.topLevelItem(0))
    with qtbot.waitSignal(sa.practising, timeout=60000):
        sa.practise_button.click()
    first = record(student, mic, qtbot, played[0])
    assert student.categories[wrong.id] == "wrong_pitch"
    second = record(student, mic, qtbot, played[1])
    assert student.categories[wrong.id] == "correct"
    sstore, tstore = store_for(str(tmp_path / "student" / "history.sqlite3")), \
        store_for(str(tmp_path / "teacher" / "history.sqlite3"))
    assert {r.id for r in sstore.submitted(uuid.UUID(aid))} == {uuid.UUID(first), uuid.UUID(second)}
    submission = tmp_path / "submission.zip"
    with qtbot.waitSignal(sa.exported, timeout=30000):
        sa.submit(aid, [first, second], str(submission))
    assert tstore.takes() == []                        # two stores: nothing reached the teacher's yet

    # ---- the teacher: imports, opens the first take, pins a comment on the wrong note, grades, exports
    with qtbot.waitSignal(teacher.docks.bundles_imported, timeout=30000):
        teacher.docks.import_files([str(submission)])
    review = teacher.docks.review_panel
    qtbot.waitUntil(lambda: review.take_item(first) is not None, timeout=30000)
    assert review.tree.topLevelItem(0).text(0).startswith("Anna  (2 takes, 2 not graded)")
    review.tree.setCurrentItem(review.take_item(first))
    with qtbot.waitSignal(review.opened, timeout=90000):
        review.open_button.click()
    assert teacher.categories[wrong.id] == "wrong_pitch"          # the student's judgement, as stored
    teacher.score_view.note_clicked.emit(wrong.element_id)        # click the wrong note
    review.comment_edit.setText("this note again: it is a B flat")
    review.comment_button.click()           # drawn once the comment is kept (not the open's own fetch)
    qtbot.waitUntil(lambda: "it is a B flat" in teacher.score_view.comment_marks().get(wrong.element_id, ""),
                    timeout=30000)
    assert list(review.grade_spins) == ["pitch", "rhythm"]       # the assignment's criteria
    review.grade_spins["pitch"].setValue(7)
    review.grade_spins["rhythm"].setValue(9)
    with qtbot.waitSignal(review.graded, timeout=30000):
        review.release_button.click()
    review.tree.setCurrentItem(review.tree.topLevelItem(0))      # all of Anna's takes
    feedback = tmp_path / "feedback.zip"
    with qtbot.waitSignal(review.exported, timeout=30000):
        review.export_feedback(str(feedback), review.feedback_takes())

    # ---- the student: imports the feedback; the comment is on that note of that take
    with qtbot.waitSignal(student.docks.bundles_imported, timeout=30000):
        student.docks.import_files([str(feedback)])
    hist = student.docks.open_history()
    qtbot.waitUntil(lambda: hist.history is not None and len(hist.history.takes) == 2 and hist.history.bars_loaded,
                    timeout=30000)
    rows = {str(t.id): t for t in hist.history.takes}
    assert grade_text(rows[first].released) == "pitch 7/10, rhythm 9/10"
    item = next(hist.take_list.topLevelItem(i) for i in range(2) if hist.take_list.topLevelItem(i).data(0, 256) == first)
    assert item.text(6) == "pitch 7/10, rhythm 9/10" and item.text(7) == "✎ 1"      # which take has comments
    item.setSelected(True)
    with qtbot.waitSignal(student.docks.comments.shown, timeout=90000):
        hist.open_button.click()
    assert student.session.stored_take_id == first
    marks = student.score_view.comment_marks()
    assert list(marks) == [wrong.element_id] and "Ms Berg: this note again" in marks[wrong.element_id]
    line = student.results.comment_lines()
    assert len(line) == 1 and line[0].startswith(f"Ms Berg, bar {wrong.measure}, beat")
    # the heatmap: the wrong note's bar red, then green; named as the most improved
    bars, mat = bar_matrix(hist.history.progress, "right")
    i = bars.index(wrong.measure)
    assert mat[i, 0] < 1.0 and mat[i, 1] == 1.0
    img = hist.heat_image.image
    assert tuple(img[i, 1]) == (44, 160, 44) and tuple(img[i, 0]) != (44, 160, 44)
    assert most_improved_bars(hist.history.progress)[0][0] == wrong.measure
    assert f"bar {wrong.measure}" in hist.heat_note.text()
