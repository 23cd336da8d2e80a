"""The report in musical words: note names, what went wrong with a note, and the list of problems
that the command line prints and the window shows ("bar 12, beat 3: F#5 35 cents flat")."""
from __future__ import annotations

from dataclasses import dataclass

from musicdesk.feedback import Report

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# One outcome per note for colouring, most serious first (a wrong note that is also late is "wrong").
CATEGORIES = ("missed", "wrong_pitch", "out_of_tune", "early", "late", "correct")


def note_name(midi: float) -> str:
    """Scientific pitch name of the nearest semitone, e.g. 66 -> 'F#4'."""
    m = int(round(midi))
    return f"{NOTE_NAMES[m % 12]}{m // 12 - 1}"


def expected_name(r, concert: bool = False) -> str:
    """A NoteResult's note as the score spells it (written pitch), or at concert pitch; concert-pitch
    sharps where the report has no name (a Score built without the loader)."""
    return (r.expected_concert_name if concert else r.expected_name) or note_name(r.expected_midi)


def played_name(r, concert: bool = False) -> str:
    """The semitone a NoteResult's note was played at, as the player reads it (written pitch, spelled
    in the part's key), or at concert pitch."""
    return (r.played_concert_name if concert else r.played_name) or note_name(r.played_midi)


def extra_name(e, unknown: str = "a note", concert: bool = False) -> str:
    """An ExtraNote's pitch as the player reads it (or at concert pitch); `unknown` when it had no
    steady pitch."""
    if e.midi is None:
        return unknown
    return (e.concert_name if concert else e.name) or note_name(e.midi)


_INTERVALS = {1: "a semitone", 2: "a major second", 3: "a minor third", 4: "a major third", 5: "a fourth",
              6: "a tritone", 7: "a fifth", 8: "a minor sixth", 9: "a major sixth", 10: "a minor seventh",
              11: "a major seventh", 12: "an octave"}


def pitch_names_note(score, concert: bool = False) -> str | None:
    """For a transposing part, which pitch the note names are in (written, as the player reads them, or
    concert) and how the part sounds; None for a part in C."""
    k = int(getattr(score, "transposition_semitones", 0) or 0)
    if k == 0:
        return None
    how = _INTERVALS.get(abs(k), f"{abs(k)} semitones")
    if concert:
        return (f"Note names are at concert pitch, as the part sounds; it reads {how} "
                f"{'higher' if k > 0 else 'lower'} than that.")
    return (f"Note names are at written pitch, as the part reads; it sounds {how} "
            f"{'lower' if k > 0 else 'higher'} than written.")


def fmt_beat(beat: float) -> str:
    """A beat position as written: 3 -> '3', 2.5 -> '2.50'."""
    return f"{beat:g}" if abs(beat - round(beat)) < 1e-6 else f"{beat:.2f}"


def describe_note(r, concert: bool = False) -> str | None:
    """What went wrong with one NoteResult, in musical terms (names at written pitch, or concert);
    None when nothing did."""
    if r.status == "missed":
        return "missed"
    bits = []
    if r.status == "wrong_pitch":
        bits.append(f"wrong note: played {played_name(r, concert)} ({r.cents:+.0f} cents)")
    elif r.intonation in ("sharp", "flat"):
        c = r.intonation_cents if getattr(r, "intonation_cents", None) is not None else r.cents
        bits.append(f"{abs(c):.0f} cents {r.intonation}")
    if r.timing in ("early", "late"):
        bits.append(f"{r.timing} by {abs(r.timing_error_ms):.0f} ms")
    return "; ".join(bits) or None


def pitch_category(r) -> str:
    """What the pitch of a note was: missed, wrong_pitch, out_of_tune or correct. The score and the roll
    colour notes by it, so a note played at the right pitch stays green when its timing was off (that
    gets a mark of its own, `timing_mark`)."""
    if r.status in ("missed", "wrong_pitch"):
        return r.status
    return "out_of_tune" if r.intonation in ("sharp", "flat") else "correct"


def timing_mark(r) -> str | None:
    """'early' or 'late' when a played note's onset was off the player's pulse, else None."""
    return r.timing if r.timing in ("early", "late") else None


def timing_note(r) -> str:
    """How a note's timing was judged, for its details: against which pulse, or why it was not."""
    if r.onset_s is None:
        return ""
    if r.timing_error_ms is None:
        return "timing not judged (too few notes around it to know your pulse)"
    return f"timing {r.timing_error_ms:+.0f} ms against your own pulse"


def note_category(r) -> str:
    """The one outcome of a note, most serious first (see CATEGORIES): the problem list's icon."""
    if r.status in ("missed", "wrong_pitch"):
        return r.status
    if r.intonation in ("sharp", "flat"):
        return "out_of_tune"
    if r.timing in ("early", "late"):
        return r.timing
    return "correct"


@dataclass(frozen=True)
class Problem:
    """One line of the problem list. note_id/index are None for an extra note."""

    text: str                 # "bar 12, beat 3: F#5 35 cents flat"
    category: str             # one of CATEGORIES, or "extra"
    measure: int
    beat: float
    note_id: str | None
    index: int | None
    onset_s: float | None     # where to play from in the take (None: missed and no neighbour found)
    offset_s: float | None


def found_neighbours(notes, index: int) -> tuple:
    """The nearest notes before and after `index` that were found in the take (None where none is)."""
    prev = next((p for p in reversed(notes[:index]) if p.offset_s is not None), None)
    nxt = next((p for p in notes[index + 1:] if p.onset_s is not None), None)
    return prev, nxt


def extra_after(report: Report) -> list[int | None]:
    """For each extra note, the index of the score note played last before it (None: before any)."""
    found = [(r.onset_s, r.index) for r in report.notes if r.onset_s is not None]
    out: list[int | None] = []
    for e in report.extra_notes:
        before = [i for on, i in found if on <= e.onset_s]
        out.append(before[-1] if before else None)
    return out


def problems(report: Report, concert: bool = False) -> list[Problem]:
    """Every note that went wrong and every extra note, in the order they were played (names at written
    pitch, or at concert pitch)."""
    out: list[Problem] = []
    notes = report.notes
    for r in notes:
        d = describe_note(r, concert)
        if d is None:
            continue
        on, off = r.onset_s, r.offset_s
        if on is None:  # a missed note: play the stretch between its found neighbours
            prev, nxt = found_neighbours(notes, r.index)
            on = prev.onset_s if prev else (nxt.onset_s if nxt else None)
            off = nxt.offset_s if nxt else (prev.offset_s if prev else None)
        out.append(Problem(f"bar {r.measure}, beat {fmt_beat(r.beat)}: {expected_name(r, concert)} {d}",
                           note_category(r), r.measure, r.beat, r.id, r.index, on, off))
    for e, i in zip(report.extra_notes, extra_after(report)):
        at = notes[i] if i is not None else (notes[0] if notes else None)
        m, b = (at.measure, at.beat) if at else (0, 0.0)
        out.append(Problem(f"bar {m}, after beat {fmt_beat(b)}: extra {extra_name(e, concert=concert)} (not in the score)", "extra",
                           m, b, None, None, e.onset_s, e.offset_s))
    out.sort(key=lambda p: (p.onset_s if p.onset_s is not None else float("inf")))
    return out
