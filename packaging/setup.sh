#!/usr/bin/env bash
# One-time (idempotent) set-up on Debian: system packages, a virtual environment in .venv,
# and musicdesk installed into it in editable mode. Sourced by ./run.sh and ./test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.musicdesk-setup"
APT_PACKAGES=(python3-venv fluidsynth fluid-soundfont-gm timgm6mb-soundfont libportaudio2 libsndfile1
  pulseaudio pulseaudio-utils libasound2-plugins libpulse0 libegl1 libgl1 libxkbcommon0 libfontconfig1
  libdbus-1-3 ffmpeg)

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
