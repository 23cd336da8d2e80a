"""A widget made after the window is first shown, or at once when something uses it first.

The piano roll needs pyqtgraph, whose import takes 0.3-0.6 s on a 2-core machine: more than the rest of
the window. The window shows without it and makes it a moment later ("show the window first, and load
the rest behind it"). Until then an empty placeholder holds its place in the layout.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QVBoxLayout, QWidget


class Deferred:
    """Stands for the widget `make()` returns; every attribute is the widget's (made on first use)."""

    def __init__(self, make: Callable[[], QWidget]):
        self._make = make
        self._widget: QWidget | None = None
        self.placeholder = QWidget()
        self._layout = QVBoxLayout(self.placeholder)
        self._layout.setContentsMargins(0, 0, 0, 0)

    @property
    def made(self) -> bool:
        return self._widget is not None

    def get(self) -> QWidget:
        """The widget, made now if it was not yet."""
        if self._widget is None:
            self._widget = self._make()
            self._layout.addWidget(self._widget)
        return self._widget

    _OWN = ("_make", "_widget", "_layout", "placeholder")

    def __getattr__(self, name: str):
        if name in Deferred._OWN:   # (not set yet: during __init__)
            raise AttributeError(name)
        return getattr(self.get(), name)

    def __setattr__(self, name: str, value) -> None:
        """Set on the widget (an attribute set here would never reach it), except Deferred's own."""
        if name in Deferred._OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self.get(), name, value)
