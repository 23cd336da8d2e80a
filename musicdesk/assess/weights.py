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
    Weights of several networks (info "members", written by `save_ensemble`) give a
    musicdesk.assess.models.Ensemble of them. `aligner_onsets_ok`: also weights trained on the aligner's
    note onsets (for design checks that build those inputs themselves, training/damage_check.py)."""
    from musicdesk.assess.models import Ensemble, build

    p = Path(path) if path is not None else weights_path(name)
    state, info = read_weights(p, name, aligner_onsets_ok)
    try:
        if "members" in info:
            model = Ensemble([build(name, **_build_options(m)) for m in info["members"]], member_weights(info))
        else:
            model = build(name, **_build_options(info))
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"The weights in {p} do not fit the {name} network ({str(exc).splitlines()[0]}); "
                         f"retrain them with `python -m training.train --model {name}`.") from exc
    model.eval()
    return model, info


def _build_options(info: dict) -> dict:
    """The network's constructor options stored in its weights' info (SIConvNet-Delta's inputs)."""
    return {k: info[f"delta_{k}"] for k in ("features", "separate", "timing_term") if f"delta_{k}" in info}


def member_infos(info: dict) -> list[dict]:
    """The info of each network in weights `info`: its members', or itself for one network."""
    return list(info["members"]) if "members" in info else [info]


def member_weights(info: dict) -> list[list[float]]:
    """Per member, per criterion (info "criteria" order), its weight in the ensemble's rating of that
    criterion (each criterion's weights sum to 1): info "member_weights", or equal weights."""
    n = len(info["members"])
    w = info.get("member_weights") or [[1.0 / n] * len(info.get("criteria", ())) for _ in range(n)]
    return [[float(x) for x in row] for row in w]


def save_ensemble(paths: list[str | os.PathLike], out: str | os.PathLike, name: str, info: dict,
                  criterion_members: dict[str, list[int]] | None = None) -> None:
    """Write the weights of the networks at `paths` (all of the model `name`) as one file: their tensors
    under members.I., their infos as `info`'s "members" (see `load`). `criterion_members`: for a
    criterion, the members (indices into `paths`) whose mean rates it; every member for the others."""
    from safetensors.torch import save_file

    tensors, infos = {}, []
    for i, p in enumerate(paths):
        state, minfo = read_weights(Path(p), name)
        if "members" in minfo:
            raise ModelError(f"{p} is already an ensemble; give its members' own weights.")
        minfo.pop("weights_id", None)
        tensors.update({f"members.{i}.{k}": v.contiguous() for k, v in state.items()})
        infos.append(minfo)
    criteria = info.get("criteria") or infos[0].get("criteria", [])
    weights = criterion_weights(len(infos), criteria, criterion_members)
    save_file(tensors, os.fspath(out), metadata={"name": name, "info": json.dumps(
        {**info, "criteria": criteria, "members": infos, "member_weights": weights})})


def criterion_weights(n_members: int, criteria, criterion_members: dict[str, list[int]] | None = None
                      ) -> list[list[float]]:
    """Per member, per criterion, its weight in an ensemble's rating (see `member_weights`): equal over
    the members `criterion_members` names for a criterion (indices), over all of them for the others."""
    weights = [[0.0] * len(criteria) for _ in range(n_members)]
    for c, crit in enumerate(criteria):
        use = (criterion_members or {}).get(crit, range(n_members))
        if not use or any(not 0 <= i < n_members for i in use):
            raise ValueError(f"criterion {crit}: members {list(use)} are not among the {n_members} given")
        for i in use:
            weights[i][c] = 1.0 / len(use)
    return weights


def _members_ok(info: dict) -> bool:
    """Whether an ensemble's info lists its members and their weights in a readable form."""
    members, n_crit = info.get("members"), len(info.get("criteria", ()))
    if not isinstance(members, list) or not members or not all(isinstance(m, dict) for m in members):
        return False
    w = info.get("member_weights")
    if w is None:
        return True
    try:
        a = [[float(x) for x in row] for row in w]
    except (TypeError, ValueError):
        return False
    return len(a) == len(members) and all(len(r) == n_crit for r in a) and all(
        abs(sum(r[c] for r in a) - 1.0) < 1e-6 for c in range(n_crit))


def read_weights(p: Path, name: str, aligner_onsets_ok: bool = False, framework: str = "pt") -> tuple[dict, dict]:
    """The state dict and info of the assessment network `name`'s weights at `p` (see `load`), the
    info with the file's fingerprint (`weights_id`, computed from the file, never stored in it)."""
    state, info = read_safetensors(p, name, f"python -m training.train --model {name}", framework)
    info["weights_id"] = weights_id(p)
    if "members" in info and not _members_ok(info):
        raise ModelError(f"The weights file {p} is damaged (its list of networks is unreadable); reinstall musicdesk.")
    for m in member_infos(info):
        if m.get("note_onsets", "dtw") not in APP_NOTE_ONSETS and not aligner_onsets_ok:
            raise ModelError(f"The weights in {p} were trained with note_timing made another way (training.train "
                             f"--note-onsets {m['note_onsets']}) than the app makes it; retrain them "
                             f"with `python -m training.train --model {name}`.")
    return state, info
