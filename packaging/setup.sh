#!/usr/bin/env bash
# One-time (idempotent) set-up on Debian: system packages, a virtual environment in .venv,
# and musicdesk installed into it in editable mode. Sourced by ./run.sh and ./test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.musicdesk-setup"
APT_PACKAGES=(python3-venv fluidsynth fluid-soundfont-gm timgm6mb-soundfont libportaudio2 libsndfile1
  pulseaudio pulseaudio-utils libasound2-plugins libpulse0 libegl1 libgl1 libxkbcommon0 libfontconfig1
  libdbus-1-3 ffmpeg
  # a font with Times' widths: verovio spaces note names for them, and Qt draws the score's text ("Times")
  fonts-liberation2
  # Qt's X11 (xcb) platform: without these the window cannot open on an X display
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-xkb1
  libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0 libx11-xcb1
  # an X server without a screen, for docs/drive_window.py and the window's test under a real X display
  xvfb
  # a LADSPA delay line for the calibration test through the virtual microphone (tests/vmic.py)
  cmt
  # a real PostgreSQL server for the history store's tests (tests/pg.py starts a throwaway cluster)
  postgresql
  # a C compiler and Python's headers: numba.pycc builds the command line's kernels ahead of time
  gcc python3-dev)

need_apt=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "musicdesk setup: installing system packages: ${need_apt[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
# Re-install only when the project's requirements changed.
want="$(sha1sum "$ROOT/pyproject.toml" | cut -d' ' -f1)-${MUSICDESK_EXTRAS:-test}"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "musicdesk setup: installing Python packages into $VENV" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
  "$VENV/bin/python" -m pip install -q "torch==2.13.0"
  "$VENV/bin/python" -m pip install -q -e "$ROOT[${MUSICDESK_EXTRAS:-test}]"
  echo "$want" > "$STAMP"
fi
# The command line's kernels compiled ahead of time (numba.pycc, about 15 s; musicdesk/compiled.py):
# a fresh `musicdesk analyze` then starts without numba. Rebuilt when their sources change; without
# a build (no C compiler) the command compiles them with numba on first use, as the window does.
if ! "$VENV/bin/python" -m musicdesk.compiled status >/dev/null 2>&1; then
  echo "musicdesk setup: compiling the command line's kernels" >&2
  "$VENV/bin/python" -m musicdesk.compiled build >/dev/null \
    || echo "musicdesk setup: warning: the kernels could not be compiled ahead of time; musicdesk analyze starts about 0.5 s slower" >&2
fi
