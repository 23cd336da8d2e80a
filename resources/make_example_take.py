"""Re-create the bundled example take resources/takes/example-take.flac (run from the repo root).

    .venv/bin/python resources/make_example_take.py

The bundled example score (default_example_melody.musicxml, "Zwei Koenigskinder") played by the
simulated player (musicdesk.simulate) on a FluidSynth clarinet, 8% slower than marked, after 1.5 s of
quiet room noise, with four known mistakes so that `musicdesk demo` has something to show:

- note 6 played a whole tone too high (wrong pitch),
- note 12 played 40 cents flat,
- note 18 played 150 ms late,
- note 25 not played (missed),
- an extra note a fourth above in the second half of note 30.

The same list is written next to the take as example-take.truth.json.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from musicdesk.audio import Take, save_take  # noqa: E402
from musicdesk.score import example_score_path, load_score  # noqa: E402
from musicdesk.simulate import Errors, perform  # noqa: E402
from musicdesk.synth import render_notes  # noqa: E402

OUT = Path(__file__).resolve().parent / "takes"


def main() -> None:
    score = load_score(example_score_path())
    n = score.notes
    errors = Errors(wrong_midi={6: n[6].midi + 2}, detune_cents={12: -40.0}, shift_ms={18: 150.0},
                    missed=frozenset({25}), extra_after={30: n[30].midi + 5})
    played, truth = perform(n, errors, tempo_factor=0.92, lead_s=1.5)
    take = render_notes(played, "clarinet")
    rng = np.random.default_rng(7)
    noise = 10 ** (-55 / 20) * rng.standard_normal(len(take.samples))
    take = Take((take.samples + noise).astype(np.float32), take.sr)
    OUT.mkdir(parents=True, exist_ok=True)
    save_take(take, OUT / "example-take.flac")
    info = {"score": "scores/default_example_melody.musicxml", "tempo_factor": 0.92, "lead_s": 1.5,
            "wrong_pitch": {"6": n[6].midi + 2}, "detune_cents": {"12": -40.0}, "late_ms": {"18": 150.0},
            "missed": [25], "extra_after": {"30": n[30].midi + 5},
            "onset_s": {str(k): round(v, 4) for k, v in truth.onset_s.items()}}
    (OUT / "example-take.truth.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"wrote {OUT / 'example-take.flac'} ({take.duration_s:.1f} s)")


if __name__ == "__main__":
    main()
