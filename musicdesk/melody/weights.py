"""The melody lab's shipped weights: models/melody-NAME.safetensors (plain tensors and a JSON header;
loading never unpickles anything), with the model's sizes and slider maps in the header."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch

from musicdesk.assess.weights import ModelError, models_dir, read_safetensors, write_safetensors
from musicdesk.melody.model import MeasureVAE, VAEConfig

__all__ = ["ModelError", "weights_path", "save", "load", "load_module"]


def weights_path(name: str) -> Path:
    return models_dir() / f"melody-{name}.safetensors"


def save(model: torch.nn.Module, path: str | os.PathLike, name: str, info: dict) -> None:
    write_safetensors(model, path, name, info)


def load_module(name: str, path: str | os.PathLike | None, make: Callable[[dict], torch.nn.Module],
                train_command: str) -> tuple[torch.nn.Module, dict]:
    """The model `name` built by `make(info)` with the shipped (or given) weights, in eval mode, and
    its info; ModelError (saying to run `train_command`) if they are missing or do not fit."""
    p = Path(path) if path is not None else weights_path(name)
    state, info = read_safetensors(p, name, train_command)
    try:
        model = make(info)
        model.load_state_dict(state, strict=True)
    except (KeyError, RuntimeError, TypeError) as exc:
        raise ModelError(f"The weights in {p} do not fit the {name} model ({str(exc).splitlines()[0]}); retrain "
                         f"them with `{train_command}`.") from exc
    return model.eval(), info


def load(name: str, path: str | os.PathLike | None = None) -> tuple[MeasureVAE, dict]:
    """The MeasureVAE `name` ('arvae', 'betavae', ...) with its shipped (or given) weights, in eval mode."""
    return load_module(name, path, lambda info: MeasureVAE(VAEConfig(**info["config"])),
                       f"python -m training.train_melody --kind {name}")
