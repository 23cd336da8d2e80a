#!/usr/bin/env bash
# Set up everything on a fresh Debian machine (first run only), then start musicdesk.
# Usage: ./run.sh [SCORE] [--part P] [--take AUDIO]    the window (no SCORE: the bundled example)
#        ./run.sh analyze SCORE AUDIO [...]            any musicdesk command
set -euo pipefail
ROOT="$(cd "$(dirname "$0")" && pwd)"
bash "$ROOT/packaging/setup.sh"
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}${QT_QPA_PLATFORM:-}" ] && [ "${1:-}" != analyze ] \
   && [ "${1:-}" != parts ] && [ "${1:-}" != demo ]; then
  echo "musicdesk: no display found (DISPLAY is not set), so the window cannot open." >&2
  echo "Showing the command-line analysis of the bundled example take instead:" >&2
  exec "$ROOT/.venv/bin/musicdesk" demo
fi
exec "$ROOT/.venv/bin/musicdesk" "$@"
