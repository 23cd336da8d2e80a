"""Shipped model weights: safetensors files (plain tensors and a string-to-string header, so loading
never unpickles anything) in the repository's models/ folder."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # torch is imported where weights are read or written, so that ModelError is cheap
    import torch

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


class ModelError(RuntimeError):
    """Weights are missing or do not fit the network; the message says what to do."""


# the ways of making note_timing the app knows (musicdesk.assess.predict.input_options): the DTW path's
# note starts, or the aligner's onsets judged against the player's pulse (training.train --note-onsets)
APP_NOTE_ONSETS = ("dtw", "aligner_pulses")


def models_dir() -> Path:
    """Where shipped weights live (MUSICDESK_MODELS_DIR overrides, for tests and packaging)."""
    return Path(os.environ.get("MUSICDESK_MODELS_DIR") or MODELS_DIR)


def weights_path(name: str) -> Path:
    return models_dir() / f"assess-{name}.safetensors"


def write_safetensors(model: torch.nn.Module, path: str | os.PathLike, name: str, info: dict) -> None:
    """Write the state dict and `info` (JSON-serialisable: sizes, settings, metrics) to `path`."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, os.fspath(path), metadata={"name": name, "info": json.dumps(info)})


WEIGHTS_ID_DIGITS = 12


def weights_id(p: str | os.PathLike) -> str:
    """A short fingerprint of a weights file (the first WEIGHTS_ID_DIGITS hex digits of its SHA-256):
    the ratings and embeddings of two files with the same id are the same network's, so a teacher's
    calibration made on one fits the other (a network retrained under the same name gets another id)."""
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()[:WEIGHTS_ID_DIGITS]


def is_weights_id(text: str | None) -> bool:
    """Whether `text` is a `weights_id` (not, say, the app version analyses stored before 2026-12-07)."""
    return bool(text) and len(text) == WEIGHTS_ID_DIGITS and all(c in "0123456789abcdef" for c in text)


def read_safetensors(p: Path, name: str, train_command: str, framework: str = "pt") -> tuple[dict, dict]:
    """The tensors and info of a weights file written by `write_safetensors` for the model `name`;
    ModelError (saying what to do) if it is missing, damaged or another model's. `framework` "np":
    numpy arrays, without importing torch."""
    from safetensors import SafetensorError, safe_open

    if framework == "np":
        from safetensors.numpy import load_file
    else:
        from safetensors.torch import load_file

    if not p.is_file():
        raise ModelError(f"No weights for the model {name!r} at {p}; reinstall musicdesk from a complete "
                         f"checkout, or train them with `{train_command}`.")
    try:
        with safe_open(os.fspath(p), framework=framework) as fh:
            meta = fh.metadata() or {}
        state = load_file(os.fspath(p))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"The weights file {p} is damaged ({exc}); reinstall musicdesk.") from exc
    if meta.get("name", name) != name:
        raise ModelError(f"{p} holds the model {meta.get('name')!r}, not {name!r}.")
    return state, json.loads(meta.get("info", "{}"))


def save(model: torch.nn.Module, path: str | os.PathLike, name: str, info: dict) -> None:
    """Write an assessment network's weights and `info` to `path`."""
    write_safetensors(model, path, name, info)


def load(name: str, path: str | os.PathLike | None = None, aligner_onsets_ok: bool = False
         ) -> tuple[torch.nn.Module, dict]:
    """The network `name` with its shipped (or given) weights, in eval mode on the CPU, and its info.
    `aligner_onsets_ok`: also weights trained on the aligner's note onsets (for design checks that
    build those inputs themselves, training/damage_check.py)."""
    from musicdesk.assess.models import build

    p = Path(path) if path is not None else weights_path(name)
    state, info = read_weights(p, name, aligner_onsets_ok)
    try:
        opts = {k: info[f"delta_{k}"] for k in ("features", "separate", "timing_term") if f"delta_{k}" in info}
        model = build(name, **opts)
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ModelError(f"The weights in {p} do not fit the {name} network ({str(exc).splitlines()[0]}); "
                         f"retrain them with `python -m training.train --model {name}`.") from exc
    model.eval()
    return model, info


def read_weights(p: Path, name: str, aligner_onsets_ok: bool = False, framework: str = "pt") -> tuple[dict, dict]:
    """The state dict and info of the assessment network `name`'s weights at `p` (see `load`), the
    info with the file's fingerprint (`weights_id`, computed from the file, never stored in it)."""
    state, info = read_safetensors(p, name, f"python -m training.train --model {name}", framework)
    info["weights_id"] = weights_id(p)
    if info.get("note_onsets", "dtw") not in APP_NOTE_ONSETS and not aligner_onsets_ok:
        raise ModelError(f"The weights in {p} were trained with note_timing made another way (training.train "
                         f"--note-onsets {info['note_onsets']}) than the app makes it; retrain them "
                         f"with `python -m training.train --model {name}`.")
    return state, info
