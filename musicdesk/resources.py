"""Paths of the bundled resources (example scores and takes) in the repository's resources/ folder."""
from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"
EXAMPLE_TAKE = "takes/example-take.flac"


def resource_path(relative: str) -> str:
    """Absolute path of a bundled resource; FileNotFoundError with a hint when it is missing."""
    p = RESOURCES_DIR / relative
    if not p.exists():
        raise FileNotFoundError(f"Bundled resource {relative} is missing from {RESOURCES_DIR}; "
                                "reinstall musicdesk from a complete checkout.")
    return str(p)


def example_take_path() -> str:
    """A take of the bundled example score, rendered with known mistakes (see resources/README.md)."""
    return resource_path(EXAMPLE_TAKE)
