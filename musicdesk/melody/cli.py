"""The melody lab's commands, registered into `musicdesk <command>` (musicdesk/cli.py):

    musicdesk attributes MELODY [--part P] [--json OUT]
    musicdesk vary MELODY --measures 3-4 --set note_density=0.8 [--set ...] --out OUT [--part P] [--chromatic]
    musicdesk inpaint MELODY --measures 5-6 [--candidates K] --out OUT [--part P] [--chromatic]

MELODY and OUT are MusicXML, MIDI or ABC files. Measures are the score's own bar numbers: a pickup is
bar 0, the first full bar is bar 1. Attribute targets are in the units `attributes` reports.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from musicdesk.melody.tokens import Melody

COMMANDS = ("attributes", "vary", "inpaint")


def parse_measures(text: str, melody: Melody) -> list[int]:
    """'3-4' or '3' or '2,5-6', in the score's bar numbers (a pickup is bar 0) -> 0-based measure
    indices of `melody`; ValueError saying what is wrong."""
    first, last = melody.bar_number(0), melody.bar_number(melody.n_measures - 1)
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.strip().partition("-")
        try:
            lo, hi = int(a), int(b or a)
        except ValueError:
            raise ValueError(f"--measures {text!r}: give bars like 3-4 or 2,5-6 (the score's bar numbers)") from None
        if not first <= lo <= hi <= last:
            raise ValueError(f"--measures {text!r}: the melody has bars {first}-{last}"
                             + (" (the pickup is bar 0)" if first == 0 else ""))
        out += [melody.measure_of_bar(x) for x in range(lo, hi + 1)]
    return sorted(set(out))


def parse_targets(items: list[str]) -> dict[str, float]:
    """['note_density=0.8', ...] -> {'note_density': 0.8}."""
    from musicdesk.melody.attributes import ATTRIBUTES

    out = {}
    for it in items:
        name, _, value = it.partition("=")
        if name not in ATTRIBUTES:
            raise ValueError(f"--set {it!r}: unknown attribute; choose from {', '.join(ATTRIBUTES)}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"--set {it!r}: the value must be a number (in the units `attributes` reports)") from None
    if not out:
        raise ValueError("give at least one --set ATTRIBUTE=VALUE")
    return out


def _table(rows: list[dict], names: tuple[str, ...], first: int = 1) -> str:
    head = "    bar " + " ".join(f"{n:>22}" for n in names)
    lines = [head] + [f"{i + first:>7} " + " ".join(f"{r[n]:>22.3f}" for n in names) for i, r in enumerate(rows)]
    return "\n".join(lines)


def _cmd_attributes(args: argparse.Namespace) -> int:
    from musicdesk.melody.attributes import ATTRIBUTES
    from musicdesk.melody.io import load_melody
    from musicdesk.melody.lab import melody_attributes

    mel = load_melody(args.melody, args.part)
    rows = melody_attributes(mel)
    print(f"{Path(args.melody).name}: {mel.n_measures} measures in {mel.time_signature}"
          + "".join(f"\nNote: {w}" for w in mel.warnings))
    print(_table(rows, ATTRIBUTES, first=mel.bar_number(0)))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "melody": str(args.melody), "time_signature": mel.time_signature, "n_measures": mel.n_measures,
            "attributes": list(ATTRIBUTES),
            "pickup": mel.pickup,
            "measures": [{"measure": mel.bar_number(i), **{k: round(v, 4) for k, v in r.items()}}
                         for i, r in enumerate(rows)],
        }, indent=1))
    return 0


def _cmd_vary(args: argparse.Namespace) -> int:
    from musicdesk.melody.attributes import ATTRIBUTES
    from musicdesk.melody.io import load_melody, save_melody
    from musicdesk.melody.lab import MelodyLab, melody_attributes, vary_measures

    mel = load_melody(args.melody, args.part)
    measures = parse_measures(args.measures, mel)
    targets = parse_targets(args.set)
    out = vary_measures(MelodyLab(args.model), mel, measures, targets, chromatic=args.chromatic)
    save_melody(out, args.out)
    before, after = melody_attributes(mel), melody_attributes(out)
    names = tuple(a for a in ATTRIBUTES if a in targets)
    from musicdesk.melody.keys import key_of

    print(f"varied bars {args.measures} toward " + ", ".join(f"{k}={v:g}" for k, v in targets.items())
          + (" (chromatic)" if args.chromatic else f" in {key_of(mel).name}") + f" -> {args.out}")
    for m in measures:
        print(f"  bar {mel.bar_number(m)}: " + ", ".join(f"{a} {before[m][a]:.3f} -> {after[m][a]:.3f}" for a in names))
    return 0


def _cmd_inpaint(args: argparse.Namespace) -> int:
    from musicdesk.melody.inpaint import inpaint_candidates
    from musicdesk.melody.io import load_melody, save_melody

    mel = load_melody(args.melody, args.part)
    measures = parse_measures(args.measures, mel)
    if measures != list(range(measures[0], measures[-1] + 1)):
        raise ValueError("--measures: inpaint one stretch of consecutive measures at a time")
    cands = inpaint_candidates(mel, measures[0], len(measures), args.candidates, chromatic=args.chromatic)
    out = Path(args.out)
    for k, c in enumerate(cands):
        path = out if k == 0 else out.with_name(f"{out.stem}-{k + 1}{out.suffix}")
        save_melody(c.melody, path)
        print(f"candidate {k + 1}: {path}  ({c.reason})")
    return 0


def add_commands(sub) -> None:
    """Register the melody commands on `musicdesk`'s sub-parsers."""
    a = sub.add_parser("attributes", help="each measure's attributes (rhythmic complexity, range, density, ...)")
    a.add_argument("melody", help="MusicXML, MXL, MIDI or ABC file")
    a.add_argument("--part", help="part name or 0-based index (default: the first part with notes)")
    a.add_argument("--json", metavar="OUT", help="also write them as JSON to OUT")
    a.set_defaults(func=_cmd_attributes)
    v = sub.add_parser("vary", help="re-write measures toward attribute values (the AR-VAE's sliders)")
    v.add_argument("melody")
    v.add_argument("--measures", required=True, help="e.g. 3-4 (the score's bar numbers; a pickup is bar 0)")
    v.add_argument("--set", action="append", default=[], metavar="ATTRIBUTE=VALUE",
                   help="a target in the units `attributes` reports; repeat for more")
    v.add_argument("--out", required=True, help="MusicXML, MIDI or ABC file to write")
    v.add_argument("--part")
    v.add_argument("--chromatic", action="store_true",
                   help="allow notes outside the melody's key (by default varied measures keep to it)")
    v.add_argument("--model", default="arvae", help=argparse.SUPPRESS)
    v.set_defaults(func=_cmd_vary)
    i = sub.add_parser("inpaint", help="fill measures so that they connect what comes before and after")
    i.add_argument("melody")
    i.add_argument("--measures", required=True, help="the bars to fill, e.g. 5-6 (the score's numbers; a pickup is bar 0)")
    i.add_argument("--candidates", type=int, default=1, help="how many fills to write (OUT, OUT-2, ...)")
    i.add_argument("--out", required=True)
    i.add_argument("--part")
    i.add_argument("--chromatic", action="store_true", help="allow fills with notes outside the melody's key")
    i.set_defaults(func=_cmd_inpaint)
