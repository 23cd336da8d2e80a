"""`musicdesk separate`, registered into `musicdesk <command>` (musicdesk/cli.py):

    musicdesk separate AUDIO --score SCORE [--parts P,...] [--out DIR] [--format wav|flac] [--json OUT]

Writes `<part>.wav` (or .flac) and `minus-<part>.wav` per part into DIR (default: AUDIO's name + "-stems"
beside it). The JSON lists the parts, the files, each part's activity (spans where it plays, seconds) and
the timings. Bad input (a score with one part, a recording of another piece, silence, audio too short):
one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

COMMANDS = ("separate",)
FORMATS = ("wav", "flac")


def file_stem(part: str) -> str:
    """A part name as a file name: letters, digits, '-' and '_' kept, anything else '_'."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", part).strip("_") or "part"


def activity_spans(row, hop_s: float, threshold: float = 0.5) -> list[list[float]]:
    """[[start_s, end_s], ...] where an activity row (frames) is at least `threshold`."""
    import numpy as np

    on = np.asarray(row) >= threshold
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(int), [0]])))
    return [[round(float(a * hop_s), 3), round(float(b * hop_s), 3)] for a, b in zip(edges[::2], edges[1::2])]


def write_stems(stems, out_dir: Path, fmt: str = "wav", keep: list[int] | None = None) -> list[dict]:
    """Write each stem (or those in `keep`) and its minus-one mix; [{part, stem, minus_one}] with the
    paths written."""
    import soundfile as sf

    out_dir.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    rows = []
    for k, part in enumerate(stems.parts):
        base = file_stem(part)
        while base in names:   # two parts with one name
            base += f"-{k + 1}"
        names.append(base)
        if keep is not None and k not in keep:
            continue
        a = out_dir / f"{base}.{fmt}"
        b = out_dir / f"minus-{base}.{fmt}"
        sf.write(a, stems.stems[k], stems.sr, subtype="PCM_16" if fmt == "wav" else None)
        sf.write(b, stems.minus_one(k), stems.sr, subtype="PCM_16" if fmt == "wav" else None)
        rows.append({"part": part, "stem": str(a), "minus_one": str(b)})
    return rows


def _cmd_separate(args: argparse.Namespace) -> int:
    from musicdesk.audio import load_take
    from musicdesk.separate.core import SeparationError, load_parts, separate

    if args.format not in FORMATS:
        raise SeparationError(f"--format {args.format!r}: choose wav or flac.")
    if not args.score:
        raise SeparationError("Separating without a score is not available yet (it needs the separation "
                              "network): give the piece's score with --score SCORE.")
    parts = [p.strip() for p in args.parts.split(",") if p.strip()] if args.parts else None
    scores = load_parts(args.score)
    take = load_take(args.audio)
    stems = separate(take.samples, take.sr, scores, method=args.method, device=args.device)
    if parts:
        keep = [stems.index(p) for p in parts]
    else:
        keep = list(range(len(stems.parts)))
    out_dir = Path(args.out) if args.out else Path(args.audio).with_name(Path(args.audio).stem + "-stems")
    try:
        rows = write_stems(stems, out_dir, args.format, keep)
    except OSError as exc:
        raise SeparationError(f"Cannot write the stems into {out_dir}: {exc.strerror or exc}. "
                              "Choose another folder with --out, or free some disk space.") from None
    chosen = [dict(r, activity_s=activity_spans(stems.activity[k], stems.activity_hop_s)) for k, r in zip(keep, rows)]
    al = stems.alignment
    doc = {"audio": str(args.audio), "score": str(args.score), "method": stems.method, "sr": stems.sr,
           "duration_s": round(len(stems.mixture) / stems.sr, 3), "parts": chosen,
           "alignment": {"start_s": round(al.start_s, 3), "end_s": round(al.end_s, 3), "cost": round(al.cost, 4),
                         "match_ratio": round(al.match_ratio, 4)},
           "timings_s": {k: round(v, 3) for k, v in stems.timings_s.items()}}
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1))
    if not args.quiet:
        for r in chosen:
            print(f"{r['part']}: {r['stem']}  (minus one: {r['minus_one']})")
        t = stems.timings_s
        print(f"{len(stems.mixture) / stems.sr:.1f} s separated in {t['total_s']:.1f} s "
              f"(alignment {t['align_s']:.1f} s), method {stems.method}")
    return 0


def add_commands(sub) -> None:
    s = sub.add_parser("separate", help="separate an ensemble recording into one stem per score part, with "
                       "the minus-one mix of each")
    s.add_argument("audio", help="WAV, FLAC, OGG or MP3 recording of the ensemble")
    s.add_argument("--score", help="the piece's score with every part (MusicXML, MXL, MIDI or ABC)")
    s.add_argument("--parts", help="write only these parts (names or 0-based indices, comma-separated)")
    s.add_argument("--out", metavar="DIR", help="folder for the stems (default: AUDIO-stems beside AUDIO)")
    s.add_argument("--format", default="wav", help="wav (16-bit, the default) or flac")
    s.add_argument("--json", metavar="OUT", help="also write the parts, files, activity and timings as JSON")
    s.add_argument("--method", default="auto", help="nmf (score-informed NMF, no learning), network (the trained "
                   "separator, which refines the NMF; below it so far) or auto (the better on our design set: nmf)")
    s.add_argument("--device", help="where the network runs: auto (cuda, then mps, then cpu), cpu, cuda or mps")
    s.add_argument("--quiet", action="store_true", help="print nothing")
    s.set_defaults(func=_cmd_separate)
