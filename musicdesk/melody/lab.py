"""The melody lab's operations over plain data: the attributes of a melody's measures, and measures
varied toward attribute targets by the shipped AR-VAE. `MelodyLab` hides the model and its device;
the functions at the bottom are what the command line and the window call."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from musicdesk.melody.attributes import ATTRIBUTES, attribute_matrix, attributes
from musicdesk.melody.tokens import Melody, decode, encode, measure_ticks_for

DEFAULT_MODEL = "arvae"
HOLD_WEIGHT = 0.1       # cost per unit of an untouched attribute's move (share of its slider range)
CHANGE_WEIGHT = 0.05    # cost of changing every tick of a measure (share of ticks changed)
OUT_OF_KEY_COST = 1e6   # a candidate with a note outside the key is chosen only when no other is left


@dataclass(frozen=True)
class Candidates:
    """Decoded candidates for a slider: for each of m measures, P latent codes, their token rows and
    attributes (ATTRIBUTES order); candidate 0 is the measure as it is."""
    z: np.ndarray           # (m, P, latent)
    rows: np.ndarray        # (m, P, 24) tokens
    attrs: np.ndarray       # (m, P, len(ATTRIBUTES))
    out_of_key: np.ndarray | None = None   # (m, P) notes outside the allowed pitch classes (None: any allowed)


class MelodyLab:
    """A loaded MeasureVAE and its slider maps. Load once; encode, move and decode many measures."""

    def __init__(self, name: str = DEFAULT_MODEL, weights: str | None = None, device: str | None = "cpu"):
        from musicdesk.assess.predict import select_device
        from musicdesk.melody.weights import load

        self.name = name
        self.device = select_device(device)
        model, self.info = load(name, weights)
        self.model = model.to(self.device)
        self.attributes: tuple[str, ...] = tuple(self.info.get("attributes", ATTRIBUTES))
        self._maps = {a: (np.asarray(m["z"]), np.asarray(m["value"])) for a, m in self.info["slider_maps"].items()}

    @property
    def latent_size(self) -> int:
        return self.model.config.latent

    def dim(self, attribute: str) -> int:
        """The latent dimension tied to `attribute`."""
        if attribute not in self.attributes:
            raise ValueError(f"Unknown attribute {attribute!r}; choose one of: {', '.join(self.attributes)}.")
        return self.attributes.index(attribute)

    @torch.inference_mode()
    def encode(self, rows: np.ndarray) -> np.ndarray:
        """Latent means (n, latent) of token rows (n, 24)."""
        tok = torch.as_tensor(np.atleast_2d(rows), dtype=torch.long, device=self.device)
        return self.model.encode(tok)[0].cpu().numpy()

    @torch.inference_mode()
    def decode(self, z: np.ndarray, measure_ticks: int | np.ndarray) -> np.ndarray:
        """Token rows (n, 24) of latent codes (n, latent), argmax decoding."""
        zz = torch.as_tensor(np.atleast_2d(z), dtype=torch.float32, device=self.device)
        mt = torch.as_tensor(np.broadcast_to(measure_ticks, (len(zz),)).copy(), device=self.device)
        return self.model.decode(zz, mt).argmax(-1).cpu().numpy()

    def value_range(self, attribute: str) -> tuple[float, float]:
        """The attribute values the slider spans (those the model reached on its training measures)."""
        v = self._maps[attribute][1]
        return float(v[0]), float(v[-1])

    def z_for(self, attribute: str, value: float) -> float:
        """The latent value of `attribute`'s dimension whose decoded measures have about `value`
        (the training set's monotone map; values outside the range go to its ends)."""
        z, v = self._maps[attribute]
        uniq, first = np.unique(v, return_index=True)
        zs = np.array([z[v == u].mean() for u in uniq]) if len(uniq) < len(v) else z[first]
        if len(uniq) == 1:
            return float(zs[0])
        return float(np.interp(value, uniq, zs))

    def candidates(self, z: np.ndarray, rows: np.ndarray, measure_beats: float, attribute: str, grid: int = 12,
                   samples: int = 6, spread: float = 1.5, seed: int = 0, allowed: frozenset | None = None
                   ) -> Candidates:
        """Decode, for each measure (codes z (m, latent), tokens rows (m, 24)), `grid` values of
        `attribute`'s dimension across its slider range and half as much again either side, each with
        `samples` draws of Gaussian noise (sd 0 to `spread`) on the other dimensions.

        Why: the regularised dimension orders the codes by the attribute (interpretability), but the
        decoder also reads the other dimensions, so moving that dimension alone leaves some measures
        unchanged (a measure's pitch range, for one). The slider then picks, among these decoded
        measures, the one nearest its value (`choose`), so what it shows is what the measure has.
        `allowed`: the pitch classes the melody's key allows (musicdesk.melody.keys); `choose` then
        passes over candidates with other notes (None: chromatic, any note)."""
        d = self.dim(attribute)
        zm = self._maps[attribute][0]
        lo, hi = float(zm[0]), float(zm[-1])
        pad = 0.5 * (hi - lo)
        gvals = np.linspace(lo - pad, hi + pad, grid)
        rng = np.random.default_rng(seed)
        z = np.atleast_2d(z).astype(np.float32)
        m, k = len(z), self.latent_size
        noise = rng.standard_normal((grid, samples, k)).astype(np.float32)
        noise *= (spread * np.arange(samples) / max(1, samples - 1))[None, :, None]
        noise[..., d] = 0.0
        zc = z[:, None, None, :] + noise[None]
        zc[..., d] = gvals[None, :, None]
        zc = zc.reshape(m, grid * samples, k)
        dec = self.decode(zc.reshape(-1, k), measure_ticks_for(measure_beats)).reshape(m, grid * samples, -1)
        allz = np.concatenate([z[:, None], zc], axis=1)
        allrows = np.concatenate([np.atleast_2d(rows)[:, None], dec], axis=1)
        attrs = attribute_matrix(allrows.reshape(-1, allrows.shape[-1]), measure_beats).reshape(m, allrows.shape[1], -1)
        ook = None
        if allowed is not None:
            from musicdesk.melody.keys import out_of_key_counts

            ook = out_of_key_counts(allrows, allowed)
        return Candidates(allz, allrows, attrs, ook)

    def choose(self, cands: Candidates, targets: dict[str, float]) -> np.ndarray:
        """Per measure, the index of the candidate nearest `targets` (attribute units): the distance
        to each target over its slider range, plus HOLD_WEIGHT x the same for every other attribute's
        move from the measure as it is, plus CHANGE_WEIGHT x the share of ticks changed. For one
        target the chosen attribute never falls as the target rises (the other terms do not depend
        on it), so the slider is monotone. Candidates with notes outside the key (`cands.out_of_key`)
        are passed over, the measure as it is excepted; that does not depend on the targets either."""
        cost = CHANGE_WEIGHT * (cands.rows != cands.rows[:, :1]).mean(axis=2)
        if cands.out_of_key is not None:
            outside = cands.out_of_key > 0
            outside[:, 0] = False
            cost = cost + OUT_OF_KEY_COST * outside
        for i, a in enumerate(ATTRIBUTES):
            lo, hi = self.value_range(a) if a in self._maps else (0.0, 1.0)
            scale = max(hi - lo, 1e-6)
            if a in targets:
                cost = cost + np.abs(cands.attrs[..., i] - targets[a]) / scale
            else:
                cost = cost + HOLD_WEIGHT * np.abs(cands.attrs[..., i] - cands.attrs[:, :1, i]) / scale
        return np.argmin(cost, axis=1)

    def steer(self, rows: np.ndarray, measure_beats: float, targets: dict[str, float],
              z: np.ndarray | None = None, allowed: frozenset | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(token rows, latent codes) of measures moved toward attribute targets (units of
        `attributes`): each target attribute in turn, through `candidates` and `choose`, keeping to the
        `allowed` pitch classes (None: any)."""
        rows = np.atleast_2d(rows)
        z = self.encode(rows) if z is None else np.atleast_2d(z).astype(np.float32)
        for a in targets:
            c = self.candidates(z, rows, measure_beats, a, allowed=allowed)
            pick = self.choose(c, targets)
            idx = np.arange(len(rows))
            rows, z = c.rows[idx, pick], c.z[idx, pick]
        return rows, z

    def vary(self, rows: np.ndarray, measure_beats: float, targets: dict[str, float],
             allowed: frozenset | None = None) -> np.ndarray:
        """Token rows moved toward attribute targets (see `steer`)."""
        return self.steer(rows, measure_beats, targets, allowed=allowed)[0]

    def move_dimension(self, rows: np.ndarray, measure_ticks: int, targets: dict[str, float],
                       z: np.ndarray | None = None) -> np.ndarray:
        """AR-VAE's own control, for the benchmark: token rows re-decoded with each target attribute's
        dimension set to the value the training map gives, the other dimensions as encoded (`z`: the
        rows' codes, when the caller has them)."""
        z = self.encode(rows) if z is None else np.array(z, dtype=np.float32)
        for a, value in targets.items():
            z[:, self.dim(a)] = self.z_for(a, value)
        return self.decode(z, measure_ticks)


def melody_attributes(melody: Melody) -> list[dict[str, float]]:
    """Every measure's attributes (measure 0 first)."""
    return [attributes(r, melody.measure_beats) for r in encode(melody)]


def vary_measures(lab: MelodyLab, melody: Melody, measures: list[int], targets: dict[str, float],
                  chromatic: bool = False) -> Melody:
    """The melody with `measures` (0-based) varied toward `targets` (attribute units), in the melody's
    key (musicdesk.melody.keys.allowed_pitch_classes) unless `chromatic`."""
    from musicdesk.melody.keys import allowed_pitch_classes

    rows = encode(melody)
    bad = [m for m in measures if not 0 <= m < len(rows)]
    if bad:
        raise ValueError(f"The melody has bars {melody.bar_number(0)}-{melody.bar_number(len(rows) - 1)}; there is no "
                         f"bar {melody.bar_number(bad[0])}.")
    allowed = None if chromatic else allowed_pitch_classes(melody)
    return with_measures(melody, rows, measures, lab.vary(rows[measures], melody.measure_beats, targets, allowed))


def melody_audio(melody: Melody, program: int | str = "flute", sr: int = 44100):
    """The melody rendered with FluidSynth at its tempo (a musicdesk.audio.Take), for listening."""
    from musicdesk.synth import PerformedNote, render_notes

    spb = 60.0 / melody.tempo_bpm
    notes = [PerformedNote(n.onset_beats * spb, n.offset_beats * spb - 0.01, n.midi) for n in melody.notes]
    return render_notes(notes, program, sr=sr, tail_s=0.6)


def with_measures(melody: Melody, rows: np.ndarray, measures: list[int], new_rows: np.ndarray) -> Melody:
    """The melody with the token rows of `measures` replaced (rows: the melody's own `encode`)."""
    rows = rows.copy()
    rows[measures] = new_rows
    out = decode(rows, melody.measure_beats, time_signature=melody.time_signature, title=melody.title,
                 tempo_bpm=melody.tempo_bpm)
    return replace(out, warnings=melody.warnings, pickup=melody.pickup, key_fifths=melody.key_fifths,
                   part_name=melody.part_name)
