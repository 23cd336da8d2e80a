"""A stored take opens again with its stored judgement: the report as stored, a contour tracked
again from the stored audio, the network's ratings; a take of some bars against their excerpt."""
from __future__ import annotations

import pytest

from musicdesk.analysis import analyze
from musicdesk.audio import load_take
from musicdesk.history.db import HistoryError
from musicdesk.history.keep import keep_take
from musicdesk.history.records import analysis_record
from musicdesk.history.reopen import fetch, open_stored, piece_key, report_from_json
from musicdesk.history.store import Store
from musicdesk.resources import example_take_path
from musicdesk.score import example_score_path, load_score


@pytest.fixture(scope="module")
def example():
    score = load_score(example_score_path())
    take = load_take(example_take_path())
    return score, take, analyze(score, take)


def test_a_report_survives_its_json_form(example):
    _, _, a = example
    rep = report_from_json(a.report.to_json_dict())
    assert rep.to_json_dict() == a.report.to_json_dict()
    assert report_from_json({**a.report.to_json_dict(), "later_field": 1}).summary == rep.summary


def test_a_kept_take_opens_with_its_stored_analysis(example, tmp_path):
    score, take, a = example
    url = str(tmp_path / "h.sqlite3")
    tid = keep_take(url, "Anna", score.source_path, score.part, score.title, take.path, a)
    store = Store(url)
    assert store.takes()[0].id == tid
    stored, reopened_take, b = open_stored(store, tid, score, tmp_path / "cache")
    assert b.report.to_json_dict() == a.report.to_json_dict()
    assert b.score is score and len(b.alignment.notes) == len(score.notes)
    assert abs(len(b.contour.times_s) - len(a.contour.times_s)) <= 1
    assert reopened_take.duration_s == pytest.approx(take.duration_s, abs=0.01)
    # the audio is written once, by content
    again = fetch(store, tid, tmp_path / "cache")
    assert again.audio_path == stored.audio_path


def test_piece_key_names_the_stored_piece_without_writing(example, tmp_path):
    score, take, a = example
    store = Store(str(tmp_path / "h.sqlite3"))
    key = piece_key(score.source_path, score.part)
    assert store.pieces() == []
    assert store.piece(score.source_path, score.part) == key


def test_a_take_of_some_bars_opens_against_their_excerpt_and_a_wrong_score_is_refused(example, tmp_path):
    from musicdesk.loop_takes import excerpt

    score, take, _ = example
    ex = excerpt(score, 2, 3)
    a = analyze(ex, take)
    store = Store(str(tmp_path / "h.sqlite3"))
    who, piece = store.person("Anna"), store.piece(score.source_path, score.part)
    tid = store.save_take(who, piece, take.path, record=analysis_record(a), bars=(2, 3))
    _, _, b = open_stored(store, tid, score, tmp_path / "cache")
    assert [n.id for n in b.score.notes] == [n.id for n in ex.notes]
    assert b.report.to_json_dict() == a.report.to_json_dict()
    other = load_score(example_score_path().replace("default_example_melody.musicxml", "example_tune.abc"))
    with pytest.raises(HistoryError, match="does not match|not in the score"):
        open_stored(store, tid, other, tmp_path / "cache")


def test_a_take_never_analysed_says_so(example, tmp_path):
    import numpy as np
    import soundfile as sf

    score, _, _ = example
    sf.write(tmp_path / "t.wav", 0.2 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000), 16000)
    store = Store(str(tmp_path / "h.sqlite3"))
    tid = store.save_take(store.person("Anna"), store.piece(score.source_path, score.part), tmp_path / "t.wav")
    with pytest.raises(HistoryError, match="never analysed"):
        open_stored(store, tid, score, tmp_path / "cache")
