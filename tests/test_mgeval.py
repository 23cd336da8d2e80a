"""The MGEval-style metrics of benchmarks/mgeval.py on sets whose answer is known."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from mgeval import compare, evaluate_set, family_means, measure_features, pairwise  # noqa: E402

from musicdesk.melody.tokens import Melody, Note  # noqa: E402


def test_the_features_of_a_hand_made_measure():
    m = Melody((Note(60, 0, 1), Note(64, 1, 1), Note(67, 2, 0.5), Note(60, 2.5, 1.5)), 4.0, 1)
    f = measure_features(m)
    assert f["note_count"][0] == 4 and f["pitch_range"][0] == 7 and f["pitch_count"][0] == 3
    assert f["pitch_class_histogram"][0] == 0.5 and f["pitch_class_histogram"][4] == 0.25
    assert f["mean_interval"][0] == (4 + 3 + 7) / 3 and f["interval_histogram"][12 + 4] == 1 / 3
    assert abs(f["mean_ioi"][0] - 2.5 / 3) < 1e-9 and abs(f["note_length_histogram"].sum() - 1) < 1e-9


def test_a_set_is_closest_to_itself_and_far_from_another():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (200, 3))
    same = rng.normal(0, 1, (200, 3))
    far = rng.normal(4, 1, (200, 3))
    kl_same, oa_same = compare(pairwise(a), pairwise(a, same))
    kl_far, oa_far = compare(pairwise(a), pairwise(a, far))
    assert oa_same > 0.85 and oa_far < 0.2 and kl_far > kl_same
    assert len(pairwise(a)) == 200 * 199 // 2 and len(pairwise(a, far)) == 200 * 200


def test_evaluate_set_reports_every_feature_and_family():
    mels = [Melody((Note(60 + k, 0, 2), Note(62 + k, 2, 2)), 4.0, 1) for k in range(12)]
    feats = [measure_features(m) for m in mels]
    ref = {f: np.stack([x[f] for x in feats]) for f in feats[0]}
    res = evaluate_set(ref, ref)
    fam = family_means(res)
    assert set(fam) == {"pitch", "rhythm"} and fam["pitch"]["oa"] > 0.9
