"""The melody lab's core: tick tokens, per-measure attributes, and melody files (MusicXML, MIDI, ABC)."""
from __future__ import annotations

import numpy as np
import pytest

from musicdesk.melody import tokens as tk
from musicdesk.melody.attributes import ATTRIBUTES, attribute_matrix, attributes
from musicdesk.melody.io import load_melody, save_melody, to_abc
from musicdesk.melody.tokens import HOLD, PAD, REST, Melody, MelodyError, Note, decode, encode, pitch_token


def _row(spec: dict[int, int | str], ticks: int = tk.MEASURE_TICKS) -> np.ndarray:
    """A measure from {tick: MIDI or 'rest'}, holds elsewhere (PAD past `ticks`)."""
    row = np.full(tk.MEASURE_TICKS, HOLD)
    row[ticks:] = PAD
    for t, v in spec.items():
        row[t] = REST if v == "rest" else pitch_token(int(v))
    return row


# ----------------------------------------------------------------------------------------------------
# tokens


def test_grid_has_sixteenths_and_triplets():
    assert [tk.tick_beats(t) for t in range(7)] == pytest.approx([0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0])
    assert tk.tick_of(2.3) == 2 * 6 + 2      # 2.3 snaps to the triplet tick 2 1/3, not to 2 1/4
    assert tk.tick_of(0.98) == 6 and tk.tick_of(0.27) == 1


def test_encode_a_measure_by_hand():
    # C4 quarter, D4 eighth, E4 eighth, F4 tied over the bar line; G4 eighth, a triplet, D5 and a rest
    m = Melody((Note(60, 0, 1), Note(62, 1, 0.5), Note(64, 1.5, 0.5), Note(65, 2, 2.5), Note(67, 4.5, 0.5),
                Note(69, 5, 1 / 3), Note(71, 5 + 1 / 3, 1 / 3), Note(72, 5 + 2 / 3, 1 / 3), Note(74, 6, 1)), 4.0, 2)
    t = encode(m)
    names = [[tk.token_name(x) for x in row] for row in t]
    assert names[0][:13] == ["C4", "__", "__", "__", "__", "__", "D4", "__", "__", "E4", "__", "__", "F4"]
    assert set(names[0][13:]) == {"__"}
    assert names[1][:3] == ["__", "__", "__"]              # F4 tied into bar 2 for half a beat
    assert names[1][3] == "G4" and names[1][6] == "A4" and names[1][8] == "B4" and names[1][10] == "C5"
    assert names[1][12] == "D5" and names[1][18] == "rest" and set(names[1][19:]) == {"__"}
    back = decode(t).notes
    assert [n.midi for n in back] == [n.midi for n in m.notes]
    assert [n.onset_beats for n in back] == pytest.approx([n.onset_beats for n in m.notes])
    assert [n.duration_beats for n in back] == pytest.approx([n.duration_beats for n in m.notes])


def test_short_meters_pad_their_rows_and_long_ones_are_refused():
    m = Melody((Note(60, 2, 1), Note(62, 3, 1.5), Note(64, 4.5, 1.5)), 3.0, 2, "3/4")   # pickup, then 3/4
    t = encode(m)
    assert list(t[:, 18:].ravel()) == [PAD] * 12
    assert tk.token_name(t[0, 0]) == "rest" and tk.token_name(t[0, 12]) == "C4"
    assert decode(t, 3.0).notes == m.notes
    with pytest.raises(MelodyError, match="longer"):
        encode(Melody((Note(60, 0, 6),), 6.0, 1, "12/8"))


def test_transpose_and_range():
    row = _row({0: 60, 6: 64, 12: "rest"})
    up = tk.transpose(row, 5)
    assert tk.token_name(up[0]) == "F4" and up[12] == REST
    assert tk.transpose(row, -24)[0] == pitch_token(36)
    with pytest.raises(MelodyError):
        tk.transpose(row, -25)
    assert tk.transpositions(_row({0: 98}), 3) == [-3, -2, -1, 0, 1, 2]
    low = Melody((Note(30, 0, 1), Note(42, 1, 1)), 4.0, 1)
    fitted = tk.fit_range(low)
    assert [n.midi for n in fitted.notes] == [42, 54] and fitted.warnings


def test_round_trip_on_real_tunes():
    """Folk tunes from music21's corpus: tokens -> melody -> tokens is the identity, and notes on the
    grid come back exactly."""
    from music21 import corpus

    from musicdesk.melody.io import _melody_of

    checked = 0
    for name in ("essenFolksong/altdeu10", "oneills1850/0001-0050"):
        opus = corpus.parse(name)
        scores = list(opus.scores)[:6] if hasattr(opus, "scores") else [opus]
        for sc in scores:
            try:
                mel = _melody_of(sc.parts[0] if len(sc.parts) else sc, sc, __import__("pathlib").Path("x.abc"))
            except MelodyError:
                continue
            t = encode(mel)
            back = decode(t, mel.measure_beats)
            assert np.array_equal(encode(back), t)
            on_grid = [n for n in mel.notes if abs(tk.tick_beats(tk.tick_of(n.onset_beats)) - n.onset_beats) < 1e-6]
            assert len(back.notes) >= 0.9 * len(mel.notes) and len(on_grid) >= 0.9 * len(mel.notes)
            checked += 1
    assert checked >= 6


# ----------------------------------------------------------------------------------------------------
# attributes


def test_attributes_of_hand_made_measures():
    quarters = _row({0: 60, 6: 62, 12: 64, 18: 65})
    a = attributes(quarters)
    assert set(a) == set(ATTRIBUTES)
    assert a["note_density"] == 1.0 and a["pitch_range_semitones"] == 5.0
    assert a["contour_semitones"] == pytest.approx(5 / 3) and a["interval_semitones"] == pytest.approx(5 / 3)
    assert a["syncopation"] == 0.0
    sixteenths = _row({t: 72 - (t % 3) for t in range(24) if t % 6 in (0, 1, 3, 5)})
    s = attributes(sixteenths)
    assert s["note_density"] == 4.0 and s["rhythmic_complexity"] > a["rhythmic_complexity"]
    triplets = _row({t: 60 for t in range(24) if t % 6 in (0, 2, 4)})
    assert attributes(triplets)["rhythmic_complexity"] > s["rhythmic_complexity"]   # triplet ticks weigh 2
    falling = attributes(_row({0: 72, 6: 67, 12: 64, 18: 60}))
    assert falling["contour_semitones"] == -4.0 and falling["interval_semitones"] == 4.0
    # an eighth, then a quarter on the off-beat that sounds through beat 2: syncopated
    synco = attributes(_row({0: 60, 3: 62, 9: 64, 12: 65, 18: 67}))
    assert synco["syncopation"] == pytest.approx(1 / 5)
    empty = attributes(_row({0: "rest"}))
    assert empty["note_density"] == 0 and empty["rhythmic_complexity"] == 0 and empty["pitch_range_semitones"] == 0
    # a note tied in from the measure before is not this measure's
    assert attributes(_row({12: 60}))["note_density"] == 0.25


def test_attributes_in_three_four_use_its_own_ticks():
    row = _row({0: 60, 6: 62, 12: 64}, ticks=18)
    a = attributes(row, 3.0)
    assert a["note_density"] == 1.0
    assert a["rhythmic_complexity"] == pytest.approx((0.2 + 0.67 + 0.25) / (0.2 + 0.67 + 0.25 + 3 * 6.5))
    assert attribute_matrix(np.stack([row, row]), 3.0).shape == (2, len(ATTRIBUTES))


# ----------------------------------------------------------------------------------------------------
# files


@pytest.mark.parametrize("suffix", [".musicxml", ".mxl", ".mid", ".abc"])
def test_export_re_imports_equal(tmp_path, suffix):
    m = Melody((Note(61, 0, 1), Note(60, 1, 0.5), Note(63, 1.5, 1 / 3), Note(65, 1.5 + 1 / 3, 2 / 3 + 0.5),
                Note(67, 3, 2.5), Note(72, 5.5, 0.25), Note(60, 6, 1)), 4.0, 2, "4/4", "A tune", 96.0)
    path = save_melody(m, tmp_path / f"tune{suffix}")
    back = load_melody(path)
    assert np.array_equal(encode(back), encode(m))
    assert back.time_signature == "4/4" and back.tempo_bpm == pytest.approx(96.0)
    six_eight = Melody((Note(67, 1.5, 0.5), Note(69, 2, 1), Note(71, 3, 0.5), Note(72, 3.5, 1.5)), 3.0, 2, "6/8")
    back = load_melody(save_melody(six_eight, tmp_path / f"jig{suffix}"))
    assert back.measure_beats == 3.0 and back.time_signature == "6/8"
    assert np.array_equal(encode(back), encode(six_eight))


def test_abc_accidentals_last_to_the_bar_line():
    m = Melody((Note(61, 0, 1), Note(60, 1, 1), Note(61, 2, 2), Note(60, 4, 4)), 4.0, 2, key_fifths=0)
    abc = to_abc(m)
    assert "^C12 =C12 ^C24 |" in abc and "| C48" in abc.replace("\n", " ")


@pytest.mark.parametrize("suffix", [".musicxml", ".mxl", ".mid", ".abc"])
def test_export_keeps_key_meter_pickup_part_name_and_tempo(tmp_path, suffix):
    """The bundled example (3/4, B-flat major, a one-beat pickup, part "Melody", 100 bpm) written and
    read back: all of it kept, the pickup still bar 0 (issue 17: the key and the part name were lost,
    the pickup came back as a full bar with a half rest)."""
    from musicdesk.melody.keys import allowed_pitch_classes
    from musicdesk.score import example_score_path, load_score

    m = load_melody(example_score_path())
    assert (m.pickup, m.key_fifths, m.part_name, m.time_signature, m.tempo_bpm) == (True, -2, "Melody", "3/4", 100.0)
    back = load_melody(save_melody(m, tmp_path / f"tune{suffix}"))
    assert (back.pickup, back.key_fifths, back.part_name, back.time_signature, back.tempo_bpm, back.n_measures) == \
        (True, -2, "Melody", "3/4", 100.0, m.n_measures)
    assert back.notes == m.notes and back.pickup_beats == 1.0
    if suffix != ".mid":          # a MIDI file has no title of its own (its track name is the part's)
        assert back.title == m.title
    # the file as a score: its bars numbered as the original's, the pickup bar 0
    score = load_score(tmp_path / f"tune{suffix}")
    assert [n.measure for n in score.notes] == [n.measure for n in load_score(example_score_path()).notes]
    assert allowed_pitch_classes(back) == allowed_pitch_classes(m)


def test_an_exported_abc_is_spelled_in_its_key():
    from musicdesk.score import example_score_path

    abc = to_abc(load_melody(example_score_path()))
    assert "K:Bb" in abc and 'V:1 name="Melody"' in abc
    assert "^F12" in abc and "_G" not in abc            # G minor's raised seventh, as the score has it
    assert abc.splitlines()[7].startswith("G12 |")       # the pickup: one beat, then the first bar line


def test_bad_melody_files_say_what_to_do(tmp_path):
    with pytest.raises(MelodyError, match="no such file"):
        load_melody(tmp_path / "missing.abc")
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd\x00\x00")
    with pytest.raises(MelodyError, match="(?i)could not (be )?read"):
        load_melody(bad)
    with pytest.raises(MelodyError, match="not a melody file"):
        load_melody(tmp_path / "take.wav")
