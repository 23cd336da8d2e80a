"""Re-create the bundled example scores in resources/scores/ (small files; run from the repo root).

    .venv/bin/python resources/make_score_examples.py

- default_example_melody.musicxml: "Zwei Koenigskinder" from the Essen folksong collection that ships
  with music21 (altdeu10.abc), 3/4 with a quarter-note pickup, quarter = 100; key signature set to
  G minor and one B natural (a transcription slip between B-flats) made B-flat.
- example_tune.abc / example_tune.mid: a short hand-written tune with a repeat and first/second endings
  (the MIDI is the ABC exported by music21: repeats written out, as MIDI has none).
- example_transposing.musicxml: a short phrase for B-flat clarinet and E-flat alto saxophone, written
  pitches with MusicXML <transpose> elements, both sounding the same concert pitches.
"""
from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parent / "scores"

EXAMPLE_ABC = """X:1
T:Example tune with repeats
C:musicdesk example
M:4/4
L:1/8
Q:1/4=96
K:D
|: D2 F2 A2 F2 | G2 B2 A4 |1 F2 E2 D2 E2 :|2 F2 E2 D4 |
|: A2 d2 c2 B2 | A2 F2 G2 E2 | F2 E2 D4 :|
"""

TRANSPOSING_XML = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1">
  <work><work-title>Transposing instruments example</work-title></work>
  <part-list>
    <score-part id="P1"><part-name>Clarinet in B-flat</part-name>
      <score-instrument id="P1-I1"><instrument-name>Clarinet in B-flat</instrument-name></score-instrument>
      <midi-instrument id="P1-I1"><midi-program>72</midi-program></midi-instrument></score-part>
    <score-part id="P2"><part-name>Alto Saxophone</part-name>
      <score-instrument id="P2-I1"><instrument-name>Alto Saxophone</instrument-name></score-instrument>
      <midi-instrument id="P2-I1"><midi-program>66</midi-program></midi-instrument></score-part>
  </part-list>
  <part id="P1">
    <measure number="1">
      <attributes><divisions>2</divisions><key><fifths>2</fifths></key>
        <time><beats>4</beats><beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef>
        <transpose><diatonic>-1</diatonic><chromatic>-2</chromatic></transpose></attributes>
      <direction placement="above"><direction-type><metronome><beat-unit>quarter</beat-unit>
        <per-minute>90</per-minute></metronome></direction-type><sound tempo="90"/></direction>
      <note><pitch><step>D</step><octave>5</octave></pitch><duration>2</duration><type>quarter</type></note>
      <note><pitch><step>E</step><octave>5</octave></pitch><duration>2</duration><type>quarter</type></note>
      <note><pitch><step>F</step><alter>1</alter><octave>5</octave></pitch><duration>2</duration><type>quarter</type></note>
      <note><pitch><step>G</step><octave>5</octave></pitch><duration>2</duration><type>quarter</type></note>
    </measure>
    <measure number="2">
      <note><pitch><step>A</step><octave>5</octave></pitch><duration>4</duration><type>half</type></note>
      <note><pitch><step>D</step><octave>5</octave></pitch><duration>4</duration><type>half</type></note>
    </measure>
  </part>
  <part id="P2">
    <measure number="1">
      <attributes><divisions>2</divisions><key><fifths>4</fifths></key>
        <time><beats>4</beats><beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef>
        <transpose><diatonic>-5</diatonic><chromatic>-9</chromatic></transpose></attributes>
      <note><pitch><step>A</step><octave>4</octave></pitch><duration>2</duration><type>quarter</type></note>
      <note><pitch><step>B</step><octave>4</octave></pitch><duration>2</duration><type>quarter</type></note>
      <note><pitch><step>C</step><alter>1</alter><octave>5</octave></pitch><duration>2</duration><type>quarter</type></note>
      <note><pitch><step>D</step><octave>5</octave></pitch><duration>2</duration><type>quarter</type></note>
    </measure>
    <measure number="2">
      <note><pitch><step>E</step><octave>5</octave></pitch><duration>4</duration><type>half</type></note>
      <note><pitch><step>A</step><octave>4</octave></pitch><duration>4</duration><type>half</type></note>
    </measure>
  </part>
</score-partwise>
"""


def make_default_example(path: Path) -> None:
    import music21 as m21
    from music21 import corpus

    op = corpus.parse(corpus.getComposer("essenFolksong")[0])  # altdeu10.abc
    sc = next(s for s in op.scores if s.metadata.title == "Zwei Koenigskinder")
    part = sc.parts[0]
    for ks in part.recurse().getElementsByClass(m21.key.KeySignature):
        ks.activeSite.replace(ks, m21.key.Key("g"))
    for n in part.recurse().notes:
        if n.pitch.nameWithOctave == "B4":
            n.pitch = m21.pitch.Pitch("B-4")
    # accidentals printed only where the key signature does not already say them (no flat on each B-flat)
    key = m21.key.Key("g")
    for m in part.getElementsByClass(m21.stream.Measure):
        m.makeAccidentals(useKeySignature=key, overrideStatus=True, cautionaryNotImmediateRepeat=False, inPlace=True)
    first = part.getElementsByClass(m21.stream.Measure).first()
    first.insert(0, m21.tempo.MetronomeMark(number=100, referent=m21.duration.Duration(1.0)))
    part.partName = "Melody"
    sc.metadata = m21.metadata.Metadata(title="Zwei Koenigskinder", composer="Traditional (German)")
    sc.write("musicxml", fp=str(path))


def main() -> None:
    import music21 as m21

    OUT.mkdir(parents=True, exist_ok=True)
    make_default_example(OUT / "default_example_melody.musicxml")
    (OUT / "example_tune.abc").write_text(EXAMPLE_ABC)
    m21.converter.parse(EXAMPLE_ABC, format="abc").write("midi", fp=str(OUT / "example_tune.mid"))
    (OUT / "example_transposing.musicxml").write_text(TRANSPOSING_XML)
    for p in sorted(OUT.iterdir()):
        print(p, p.stat().st_size)


if __name__ == "__main__":
    main()
