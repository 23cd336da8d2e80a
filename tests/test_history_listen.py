"""Two takes side by side: A then B over the same bars; both at once with B stretched onto A's timeline."""
from __future__ import annotations

import numpy as np
import pytest

from musicdesk.analysis import analyze
from musicdesk.audio import Take
from musicdesk.history.listen import GAP_S, a_then_b, b_on_a, score_time_at
from musicdesk.loop_takes import excerpt
from musicdesk.score import example_score_path, load_score
from musicdesk.simulate import perform
from musicdesk.synth import render_notes


@pytest.fixture(scope="module")
def takes():
    score = load_score(example_score_path())
    out = []
    for factor in (1.0, 0.8):                 # B is slower
        notes, _ = perform(score.notes, tempo_factor=factor)
        take = render_notes(notes, "flute")
        out.append((take, analyze(score, take)))
    return score, out


def test_a_then_b_plays_the_same_bars_of_each_and_the_cursor_follows_the_score(takes):
    score, ((ta, aa), (tb, ab)) = takes
    lis = a_then_b(score, ta, aa.alignment, tb, ab.alignment, bars=(2, 3))
    (la, a0, a1), (lb, b0, b1) = lis.parts
    assert la == "A" and lb == "B" and b0 == pytest.approx(a1 + GAP_S, abs=0.01)
    assert (b1 - b0) > 1.15 * (a1 - a0)         # B's bars last longer: it is slower
    ex = excerpt(score, 2, 3)
    first = next(n for n in score.notes if n.measure == 2)
    for start in (a0, b0):                      # each part's cursor passes the bars' first note
        t = [score_time_at(lis, start + x) for x in np.linspace(0, 1.5, 40)]
        assert any(v is not None and abs(v - first.onset_s) < 0.15 for v in t)
    assert score_time_at(lis, a1 + GAP_S / 2) is None
    assert len(ex.notes) > 0 and len(lis.samples) == pytest.approx((b1) * lis.sr, abs=lis.sr * 0.02)


def test_both_at_once_puts_b_on_a_timeline(takes):
    score, ((ta, aa), (tb, ab)) = takes
    lis = b_on_a(score, ta, aa.alignment, tb, ab.alignment, gains=(0.0, 1.0))   # only B, stretched
    assert abs(len(lis.samples) - len(ta.samples)) <= 1
    stretched = analyze(score, Take(lis.samples, lis.sr))
    on_a = np.array([n.onset_s for n in aa.alignment.notes], dtype=float)
    on_b = np.array([n.onset_s for n in stretched.alignment.notes], dtype=float)
    err = np.abs(on_a - on_b)
    assert np.nanmedian(err) < 0.03 and np.nanpercentile(err, 90) < 0.06
    # and unstretched, B's notes lie far from A's
    raw = np.array([n.onset_s for n in ab.alignment.notes], dtype=float)
    assert np.nanmedian(np.abs(raw - on_a)) > 1.0
