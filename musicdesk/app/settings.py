"""Persistent settings (QSettings): input device, sample rate, tolerances, tracker, latency offset, ..."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields

from PySide6.QtCore import QSettings

from musicdesk.assess import DEFAULT_MODEL
from musicdesk.feedback import Tolerances
from musicdesk.pitch import DEFAULT_TRACKER

MAX_RECENT = 10


@dataclass
class AppSettings:
    input_device: str = ""            # device name; "" = the system default
    output_device: str = ""
    sample_rate: int = 44100
    pitch_cents: float = 50.0         # tolerances, see musicdesk.feedback.Tolerances
    intonation_cents: float = 25.0
    timing_ms: float = 50.0
    reference_a4_hz: float = 440.0    # the reference pitch notes are judged against (415, 440, 442, ...)
    tracker: str = DEFAULT_TRACKER
    assess_model: str = DEFAULT_MODEL  # assessment network (musicdesk.assess); "none" = no network ratings
    assess_device: str = "auto"       # auto (cuda, then mps, then cpu), cpu, cuda, mps
    latency_ms: float = 0.0           # input latency: subtracted from the take's times against the metronome
    count_in_beats: int = 4           # metronome beats before recording; 0 = none
    metronome_in_take: bool = False   # the metronome keeps clicking through the take (headphones advised)
    headphones: bool = False          # minus-one through headphones: the take holds no accompaniment to remove
    concert_pitch: bool = False       # name a transposing part's notes as they sound (default: as written)
    takes_dir: str = ""               # "" = the user data folder
    history_enabled: bool = True      # keep every take and its analysis in the practice history
    history_db: str = ""              # the history store: "" = MUSICDESK_DB, else the user data folder's file
    student_name: str = ""            # whose takes: "" = MUSICDESK_STUDENT, else the login name
    teacher_mode: bool = False        # open the teacher's review at start (people, pieces, takes; comments, grades)
    teacher_name: str = ""            # who comments and grades here: "" = the login name
    rubric: str = "pitch, rhythm, intonation, tone"   # the teacher's own criteria (an assignment brings its own)
    rubric_scale: float = 10.0        # ... graded from 0 to this
    recent_files: list[str] = field(default_factory=list)

    def tolerances(self) -> Tolerances:
        return Tolerances(pitch_cents=self.pitch_cents, intonation_cents=self.intonation_cents,
                          timing_ms=self.timing_ms, reference_a4_hz=self.reference_a4_hz)

    def add_recent(self, path: str) -> None:
        """Put `path` first in File > Recent, as an absolute path (a relative one would point elsewhere
        once the app is started from another folder)."""
        path = os.path.abspath(os.path.expanduser(path))
        self.recent_files = [path] + [p for p in self.recent_files if os.path.abspath(p) != path][: MAX_RECENT - 1]


def _qsettings(org: str | None) -> QSettings:
    return QSettings(org or "musicdesk", "musicdesk")


def load_settings(org: str | None = None) -> AppSettings:
    """Read the stored settings (defaults for anything missing or unreadable)."""
    qs = _qsettings(org)
    s = AppSettings()
    for f in fields(AppSettings):
        if not qs.contains(f.name):
            continue
        raw = qs.value(f.name)
        default = getattr(s, f.name)
        try:
            if isinstance(default, list):
                val = [str(x) for x in (raw if isinstance(raw, list) else ([raw] if raw else []))]
            elif isinstance(default, bool):
                val = str(raw).lower() in ("1", "true", "yes")
            elif isinstance(default, int):
                val = int(float(raw))
            elif isinstance(default, float):
                val = float(raw)
            else:
                val = str(raw)
        except (TypeError, ValueError):
            continue
        setattr(s, f.name, val)
    return s


def save_settings(s: AppSettings, org: str | None = None) -> None:
    qs = _qsettings(org)
    for k, v in asdict(s).items():
        qs.setValue(k, v)
    qs.sync()
