"""The per-note report on hand-made contours and alignments (no audio): statuses, cents, local-tempo timing."""
import numpy as np
import pytest

from musicdesk.align import Alignment, NoteAlignment
from musicdesk.feedback import Tolerances, build_report, local_tempo_errors_ms
from musicdesk.pitch import PitchContour
from musicdesk.score import Score, ScoreNote

HOP_S = 0.01


def make_score(pitches, dur_beats=1.0, bpm=120.0):
    spb = 60.0 / bpm
    notes = tuple(ScoreNote(id=f"n{i}", element_id=f"n{i}", index=i, midi=p, written_midi=p,
                            onset_beats=i * dur_beats, duration_beats=dur_beats, onset_s=i * dur_beats * spb,
                            duration_s=dur_beats * spb, measure=1 + i // 4, beat=1.0 + i % 4)
                  for i, p in enumerate(pitches))
    return Score(title="t", parts=("p",), part="p", notes=notes, tempo_bpm=bpm,
                 duration_s=notes[-1].offset_s)


def contour_from(segments, total_s):
    """segments: (onset_s, offset_s, midi float) -> a voiced contour at HOP_S."""
    t = np.arange(0, total_s, HOP_S)
    f0 = np.zeros_like(t)
    for on, off, m in segments:
        f0[(t >= on) & (t < off)] = 440.0 * 2 ** ((m - 69) / 12)
    v = f0 > 0
    return PitchContour(times_s=t, f0_hz=f0, voiced=v, confidence=v.astype(float), hop_s=HOP_S, tracker="test")


def performed(score, stretch=1.0, lead=1.0):
    return [(lead + n.onset_s * stretch, lead + n.offset_s * stretch - 0.03, float(n.midi)) for n in score.notes]


def report_for(score, segs, notes_idx=None, extra=()):
    played = [s for s in segs if s]
    contour = contour_from(played, max(s[1] for s in played) + 1.0)
    al = Alignment(notes=tuple(NoteAlignment(i, segs[i][0], segs[i][1]) if segs[i] else NoteAlignment(i, None, None)
                               for i in range(len(score.notes))), extra=tuple(extra))
    return build_report(score, contour, al)


PITCHES = [60, 62, 64, 65, 67, 65, 64, 62, 60, 62, 64, 65, 67, 69, 71, 72]


def test_clean_take_has_no_problems():
    score = make_score(PITCHES)
    rep = report_for(score, performed(score))
    assert all(r.status == "correct" and r.intonation == "in_tune" for r in rep.notes)
    # the first and last notes set the pulse (one side only) and are not judged; every other note is on time
    assert [r.timing for r in rep.notes] == [None] + ["on_time"] * (len(PITCHES) - 2) + [None]
    assert rep.summary["percent_correct"] == 100.0
    assert rep.ratings["note_accuracy"] == 1.0
    assert rep.ratings["rhythmic_accuracy"] > 0.99 and rep.ratings["intonation"] > 0.99
    assert rep.summary["played_tempo_bpm"] == pytest.approx(120.0, rel=1e-3)


def test_slow_steady_take_is_not_late():
    score = make_score(PITCHES)
    rep = report_for(score, performed(score, stretch=1.25))  # 25% slower, steady
    assert all(r.timing in ("on_time", None) for r in rep.notes)
    assert rep.summary["played_tempo_bpm"] == pytest.approx(96.0, rel=1e-3)


def test_drifting_tempo_is_not_flagged_but_one_late_note_is():
    score = make_score(PITCHES)
    segs = []
    t = 1.0
    for i, n in enumerate(score.notes):
        d = 0.5 * (1.0 + 0.015 * i)  # steadily slowing down (a ritardando: 120 -> 98 bpm)
        segs.append([t, t + d - 0.03, float(n.midi)])
        t += d
    segs[9][0] += 0.150  # one note 150 ms late
    rep = report_for(score, [tuple(s) for s in segs])
    flagged = [r.index for r in rep.notes if r.timing in ("early", "late")]
    assert flagged == [9]
    assert rep.notes[9].timing == "late"
    # the smaller of the two sides: under the ritardando the pulse after it runs 15 ms slower
    assert rep.notes[9].timing_error_ms == pytest.approx(150, abs=20)


def test_wrong_flat_and_missed_notes():
    score = make_score(PITCHES)
    segs = performed(score)
    segs[3] = (segs[3][0], segs[3][1], 66.0)          # wrong note: F#4 instead of F4
    segs[6] = (segs[6][0], segs[6][1], 64 - 0.40)     # 40 cents flat
    segs[10] = None                                   # missed
    rep = report_for(score, segs)
    assert [r.index for r in rep.notes if r.status == "wrong_pitch"] == [3]
    assert rep.notes[3].played_midi == pytest.approx(66.0)
    assert [r.index for r in rep.notes if r.status == "missed"] == [10]
    assert [r.index for r in rep.notes if r.intonation in ("sharp", "flat")] == [6]
    assert rep.notes[6].intonation == "flat" and rep.notes[6].cents == pytest.approx(-40, abs=0.5)
    assert rep.summary["n_correct"] == 14 and rep.summary["n_wrong_pitch"] == 1 and rep.summary["n_missed"] == 1


def test_extra_notes_carry_their_pitch():
    score = make_score(PITCHES)
    segs = performed(score)
    rep = report_for(score, segs + [(segs[-1][1] + 0.1, segs[-1][1] + 0.4, 74.0)],
                     extra=[(segs[-1][1] + 0.1, segs[-1][1] + 0.4)])
    assert len(rep.extra_notes) == 1 and rep.extra_notes[0].midi == pytest.approx(74.0)
    assert rep.summary["n_extra"] == 1


def test_stopping_early_limits_coverage_not_accuracy():
    score = make_score(PITCHES)
    segs = performed(score)
    segs = segs[:8] + [None] * 8
    rep = report_for(score, segs)
    assert rep.summary["coverage"] == pytest.approx(0.5)
    assert rep.ratings["note_accuracy"] == 1.0
    assert rep.summary["n_missed"] == 8


def test_unvoiced_note_span_is_missed():
    score = make_score(PITCHES[:8])
    segs = performed(score)
    contour = contour_from([s for i, s in enumerate(segs) if i != 2], segs[-1][1] + 1)
    al = Alignment(notes=tuple(NoteAlignment(i, s[0], s[1]) for i, s in enumerate(segs)))
    rep = build_report(score, contour, al)
    assert rep.notes[2].status == "missed" and rep.notes[2].onset_s is None


def test_json_contract_keys():
    score = make_score(PITCHES)
    d = report_for(score, performed(score)).to_json_dict()
    keys = {"id", "index", "measure", "beat", "expected_midi", "status", "played_midi", "cents",
            "onset_s", "offset_s", "timing_error_ms"}
    assert keys <= set(d["notes"][0])
    assert set(d) >= {"notes", "extra_notes", "summary", "ratings"}
    assert [n["index"] for n in d["notes"]] == list(range(len(PITCHES)))


def test_local_tempo_errors_leave_one_out():
    beats = np.arange(20, dtype=float)
    secs = 2.0 + 0.6 * beats
    secs[7] += 0.1
    err = local_tempo_errors_ms(beats, secs, window_beats=8.0)
    assert err[7] == pytest.approx(100, abs=1)
    assert np.all(np.abs(np.delete(err, 7)) < 1)


def test_tolerances_are_parameters():
    score = make_score(PITCHES)
    segs = performed(score)
    segs[6] = (segs[6][0], segs[6][1], 64 - 0.40)
    contour = contour_from(segs, segs[-1][1] + 1)
    al = Alignment(notes=tuple(NoteAlignment(i, s[0], s[1]) for i, s in enumerate(segs)))
    loose = build_report(score, contour, al, Tolerances(intonation_cents=45))
    assert loose.notes[6].intonation == "in_tune"
    strict = build_report(score, contour, al, Tolerances(pitch_cents=30))
    assert strict.notes[6].status == "wrong_pitch"
