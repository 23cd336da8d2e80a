"""The Qt binding must not leak or over-release references while it dispatches events: PySide6 6.12.0
releases one reference to None per event on Python 3.11 (where None is not immortal), and a window
that draws at 60 frames per second then aborts with "deallocating None" within a minute or two."""
from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("pytestqt")


def test_painting_the_piano_roll_keeps_none_alive(qtbot):
    from musicdesk.app.piano_roll import PianoRoll, RollNote

    roll = PianoRoll()
    qtbot.addWidget(roll)
    roll.resize(600, 300)
    roll.show()
    roll.set_notes([RollNote("a", 0.0, 1.0, 60, "correct", "+10c")])
    roll.append_live(np.linspace(0, 1, 50), np.full(50, 60.2))
    qtbot.wait(50)
    before = sys.getrefcount(None)
    for _ in range(200):
        roll.repaint()
        qtbot.wait(1)
    # allow a little slack for objects created meanwhile; the bug loses 1-6 references per event
    assert sys.getrefcount(None) >= before - 20
