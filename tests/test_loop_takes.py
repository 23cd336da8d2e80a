"""Record-loop over bars (issue 16, 13): the excerpt a pass is judged against, where passes lie."""
from __future__ import annotations

import numpy as np
import pytest

from musicdesk.analysis import analyze
from musicdesk.loop_takes import cut_pass, excerpt, plan_loop
from musicdesk.metronome import take_click_times_s
from musicdesk.playback import measure_span_s
from musicdesk.score import example_score_path, load_score
from musicdesk.simulate import Errors, perform
from musicdesk.synth import render_notes


@pytest.fixture(scope="module")
def score():
    return load_score(example_score_path())


def test_excerpt_starts_at_its_first_bar_and_keeps_ids_and_bar_numbers(score):
    ex = excerpt(score, 2, 3)
    inside = [n for n in score.notes if 2 <= n.measure <= 3]
    assert [n.id for n in ex.notes] == [n.id for n in inside]
    assert [n.index for n in ex.notes] == list(range(len(inside)))
    a, b = measure_span_s(score, 2, 3)
    assert ex.duration_s == pytest.approx(b - a)
    assert [n.onset_s for n in ex.notes] == pytest.approx([n.onset_s - a for n in inside])
    assert ex.notes[0].onset_beats == 0.0 and ex.tempo_bpm == pytest.approx(score.tempo_bpm)
    pickup = excerpt(score, 0, 1)                     # the pickup's rests before its note count
    assert pickup.notes[0].onset_s == pytest.approx(2 * 60 / score.tempo_bpm)
    with pytest.raises(ValueError, match="No notes in measures"):
        excerpt(score, 90, 91)


def test_passes_lie_one_cycle_apart_and_a_pass_cut_short_counts_only_when_nearly_played(score):
    plan = plan_loop(excerpt(score, 2, 3), 2, 3, 1.8)
    assert plan.cycle_s == pytest.approx(5.4) and plan.bars_start_s(1) == pytest.approx(7.2)
    assert plan.take_span_s(0) == pytest.approx((1.5, 6.2))
    assert [plan.passes_complete(t) for t in (0.0, 6.1, 6.2, 11.5, 11.6)] == [0, 0, 1, 1, 2]
    assert plan.passes_at_stop(1.8 + 0.89 * 3.6) == 0 and plan.passes_at_stop(1.8 + 0.91 * 3.6) == 1
    assert plan.pass_at(8.0)[0] == 1 and plan.pass_at(6.0)[1] < 0   # pass 2's count-in
    back_to_back = plan_loop(excerpt(score, 2, 3), 2, 3, 0.0)        # no count-in: no run-on into the next pass
    assert back_to_back.after_s == 0.15 and back_to_back.before_s == 0.0
    times, accents = take_click_times_s(excerpt(score, 2, 3), 3, through_take=True)
    assert len(times) == 3 + 6 and accents[0] and times[3] == pytest.approx(1.8)


def test_each_pass_cut_from_one_recording_is_judged_against_its_bars(score):
    """Two passes of bars 2-3 in one recording, the second with a wrong note: cut and judged, each
    shows its own."""
    ex = excerpt(score, 2, 3)
    plan = plan_loop(ex, 2, 3, 1.8)
    sr = 22050
    rec = np.zeros(int((plan.bars_start_s(2)) * sr), dtype=np.float32)
    for k, errs in enumerate((Errors(), Errors(wrong_midi={4: ex.notes[4].midi + 2}))):
        notes, _ = perform(ex.notes, errs, lead_s=plan.bars_start_s(k) + 0.12)   # a little late
        x = render_notes(notes, "flute", sr=sr).samples[:len(rec)]
        rec[:len(x)] += x
    from musicdesk.audio import Take

    reports = [analyze(ex, Take(cut_pass(rec, sr, plan, k), sr, "")).report for k in range(2)]
    assert [r.summary["n_correct"] for r in reports] == [6, 5]
    assert [r.status for r in reports[1].notes].index("wrong_pitch") == 4
    assert reports[1].notes[4].measure == 3 and not reports[0].extra_notes
