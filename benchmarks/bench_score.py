"""Score loading: speed, and agreement with data nobody in this project made.

    .venv/bin/python benchmarks/bench_score.py

Measures
- speed: `import musicdesk.score`, first load (includes importing music21), warm loads of a 60-bar
  MusicXML tune and of each bundled example, against plain `music21.converter.parse` of the same file
  (the usual way to read a score; it does none of the id / played-order / tempo work);
- Bach10 (5 chorales x 4 parts): notes read from the MIDI score vs pretty_midi (pitch, onset and offset
  seconds, exact to 1 us) and vs the number of rows per part in GTNotes.csv (notes derived from the
  hand-corrected F0 annotation, so a few repeated notes merge or split there);
- Vienna 4x22 (4 piano scores, note ids in the MusicXML): for the melody the loader keeps (top part,
  chords -> top note, skyline), the share of notes whose element_id is a score_id of the upstream
  alignment CSV, and whether pitch, measure and onset (beats) agree with that row.
Writes benchmarks/results/score.md and benchmarks/results/score.json.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import datetime
import time
from collections import Counter
from pathlib import Path
from make_results import write_section  # noqa: E402  (benchmarks/ is this script's folder)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")
sys.path.insert(0, str(ROOT))


def best_of(fn, n=5) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def speed() -> dict:
    out = {}
    code = "import time; t=time.perf_counter(); import musicdesk.score; print(time.perf_counter()-t)"
    out["import_musicdesk_score_s"] = float(subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                                                           capture_output=True, text=True, check=True).stdout)
    code = ("import time; t=time.perf_counter(); from musicdesk.score import load_score, example_score_path;"
            "load_score(example_score_path()); print(time.perf_counter()-t)")
    out["first_load_incl_music21_import_s"] = float(subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout)

    import music21

    from musicdesk import score as S

    tmp = Path(tempfile.mkdtemp())
    melody = music21.stream.Part()
    melody.append(music21.tempo.MetronomeMark(number=110))
    steps = "CDEFGABAGFED"
    for i in range(240):
        melody.append(music21.note.Note(steps[i % len(steps)] + "5", quarterLength=1.0))
    sixty = tmp / "sixty_bars.musicxml"
    music21.stream.Score([melody]).write("musicxml", fp=str(sixty))
    files = {"60-bar tune (MusicXML)": sixty,
             "default example (MusicXML, 17 bars)": Path(S.example_score_path()),
             "example_tune.abc (7 bars, repeats)": ROOT / "resources/scores/example_tune.abc",
             "example_tune.mid": ROOT / "resources/scores/example_tune.mid",
             "Mozart K331 (vienna4x22, piano)": DATA / "vienna4x22/musicxml/Mozart_K331_1st-mov.musicxml",
             "Bach10 01 (MIDI, 4 tracks)": DATA / "bach10/01-AchGottundHerr/01-AchGottundHerr.mid"}
    S.load_score(S.example_score_path())  # warm-up

    def ours(p):
        S._CACHE.clear()
        S.load_score(str(p))

    rows = []
    for name, p in files.items():
        if not p.exists():
            continue
        rows.append({"file": name, "load_score_s": best_of(lambda: ours(p)),
                     "music21_parse_s": best_of(lambda: music21.converter.parse(str(p), forceSource=True))})
    out["rows"] = rows
    return out


def bach10() -> dict:
    import pretty_midi

    from musicdesk.score import load_score

    order = ["violin", "clarinet", "saxphone", "bassoon"]
    rows = []
    for mid in sorted((DATA / "bach10").glob("*/*.mid")):
        gt = Counter(r["part"] for r in csv.DictReader(open(str(mid).replace(".mid", "-GTNotes.csv"))))
        pm = pretty_midi.PrettyMIDI(str(mid))
        for i, part in enumerate(order):
            sc = load_score(str(mid), part=i)
            ref = sorted(pm.instruments[i].notes, key=lambda n: (n.start, -n.pitch))
            exact = len(ref) == len(sc.notes) and all(
                a.pitch == b.midi and abs(a.start - b.onset_s) < 1e-6 and abs(a.end - b.offset_s) < 1e-6
                for a, b in zip(ref, sc.notes))
            rows.append({"piece": mid.stem, "part": part, "notes": len(sc.notes), "gt_rows": gt[part],
                         "pretty_midi_exact": exact})
    return {"rows": rows, "parts": len(rows), "pretty_midi_exact": sum(r["pretty_midi_exact"] for r in rows),
            "count_equals_gt": sum(r["notes"] == r["gt_rows"] for r in rows)}


def vienna() -> dict:
    from musicdesk.score import load_score

    rows = []
    for xml in sorted((DATA / "vienna4x22" / "musicxml").glob("*.musicxml")):
        csvs = sorted((DATA / "vienna4x22" / "alignment_csv").glob(xml.stem + "_p*.csv"))
        if not csvs:
            continue
        ref = {r["score_id"]: r for r in csv.DictReader(open(csvs[0])) if r["score_id"]}
        sc = load_score(str(xml))
        found = [n for n in sc.notes if n.element_id in ref]
        pitch_ok = sum(int(ref[n.element_id]["score_midi"]) == n.midi for n in found)
        # upstream numbers a pickup bar 0 where the file prints 1, and counts onsets in the time
        # signature's denominator unit (eighths in 6/8) from the first downbeat: compare after the
        # constant measure offset and the linear map (unit, shift) that the durations imply
        moff = Counter(int(ref[n.element_id]["measure"]) - n.measure for n in found).most_common(1)[0][0]
        meas_ok = sum(int(ref[n.element_id]["measure"]) - n.measure == moff for n in found)
        unit = Counter(round((float(ref[n.element_id]["score_offset_beats"]) - float(ref[n.element_id]["score_onset_beats"]))
                             / n.duration_beats, 3) for n in found if n.duration_beats > 0).most_common(1)[0][0]
        shift = Counter(round(float(ref[n.element_id]["score_onset_beats"]) - unit * n.onset_beats, 3) for n in found)
        d = shift.most_common(1)[0][0]
        onset_ok = sum(abs(float(ref[n.element_id]["score_onset_beats"]) - unit * n.onset_beats - d) < 1e-3 for n in found)
        rows.append({"score": xml.stem, "notes_kept": len(sc.notes), "ids_found": len(found),
                     "pitch_agree": pitch_ok, "measure_agree": meas_ok, "measure_offset": moff,
                     "onset_agree": onset_ok, "csv_units_per_quarter": unit, "onset_shift": d, "warnings": list(sc.warnings)})
    return {"rows": rows}


def main() -> None:
    res = {"machine": "2-core CPU, no GPU", "date": datetime.date.today().isoformat(),
           "command": ".venv/bin/python benchmarks/bench_score.py",
           "speed": speed(), "bach10": bach10(), "vienna4x22": vienna()}
    sp, b, v = res["speed"], res["bach10"], res["vienna4x22"]
    lines = ["## Score loading (musicdesk.score)", "",
             f"Command: `{res['command']}` — machine: {res['machine']} — date: {res['date']}.", "",
             f"- `import musicdesk.score`: {sp['import_musicdesk_score_s']:.3f} s (music21 is imported lazily); "
             f"first `load_score` in a fresh process, music21 import included: "
             f"{sp['first_load_incl_music21_import_s']:.2f} s.", "",
             "| file | load_score (s, warm, best of 5) | music21.converter.parse alone (s) |",
             "| --- | --- | --- |"]
    lines += [f"| {r['file']} | {r['load_score_s']:.3f} | {r['music21_parse_s']:.3f} |" for r in sp["rows"]]
    lines += ["", "Target: a 60-bar MusicXML tune well under 1 s after import.", "",
              f"Bach10 MIDI scores (5 chorales x 4 parts = {b['parts']} parts): notes equal to pretty_midi's "
              f"(pitch, onset, offset within 1 us) in {b['pretty_midi_exact']}/{b['parts']} parts; note count equal to "
              f"the GTNotes.csv rows of that part in {b['count_equals_gt']}/{b['parts']} "
              "(GTNotes come from the F0 annotation, where some repeated notes merge or split).", "",
              "| piece | part | notes | GTNotes rows | = pretty_midi |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['piece']} | {r['part']} | {r['notes']} | {r['gt_rows']} | {'yes' if r['pretty_midi_exact'] else 'NO'} |"
              for r in b["rows"]]
    lines += ["", "Vienna 4x22 scores (note ids from the file; the loader keeps the top line of the piano part: "
              "chords -> top note, skyline): agreement with the upstream alignment CSV of the first pianist.", "",
              "Upstream numbers a pickup bar 0 (the files print 1) and counts onsets in the time signature's "
              "denominator unit from the first downbeat; measures and onsets are compared after the constant offset "
              "and the (unit, shift) map shown.", "",
              "| score | notes kept | ids found in CSV | pitch agrees | measure agrees (offset) | onset agrees (CSV units per quarter, shift) |",
              "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['score']} | {r['notes_kept']} | {r['ids_found']} | {r['pitch_agree']} | "
              f"{r['measure_agree']} ({r['measure_offset']:+d}) | "
              f"{r['onset_agree']} ({r['csv_units_per_quarter']:g}, {r['onset_shift']:+g}) |" for r in v["rows"]]
    write_section("score", res, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
