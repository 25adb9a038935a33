#!/usr/bin/env bash
# Start the Microsoft 365 Agents Playground (a local Teams-like chat UI) against the bot on this machine.
#
#   scripts/playground.sh                 # bot on http://127.0.0.1:3978/api/messages, UI on http://localhost:56150
#   PORT=4000 PLAYGROUND_PORT=56151 scripts/playground.sh
#
# Uses the pinned copy in ./node_modules (npm install). Offline: no browser is opened
# (TEAMSAPPTESTER_BROWSER=none) and telemetry is off (--disable-telemetry). Without Node.js it explains what to
# install and exits 0, so `make run` keeps the bot running.
set -u

SCRIPT_DIR="${BASH_SOURCE[0]%/*}"
[ "${SCRIPT_DIR}" = "${BASH_SOURCE[0]}" ] && SCRIPT_DIR=.
ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
BOT_HOST="${PLAYGROUND_BOT_HOST:-127.0.0.1}"
BOT_PORT="${PORT:-3978}"
UI_PORT="${PLAYGROUND_PORT:-56150}"
ENDPOINT="http://${BOT_HOST}:${BOT_PORT}/api/messages"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  {
    echo "[playground] Node.js (with npm) was not found, so the Agents Playground cannot start."
    echo "[playground] The bot itself keeps running at ${ENDPOINT}."
    echo "[playground] To chat with it locally, install Node.js 20 or newer (https://nodejs.org/ or your package"
    echo "[playground] manager), then run:  npm install && scripts/playground.sh"
  } >&2
  exit 0
fi

CLI="${ROOT}/node_modules/.bin/agentsplayground"
if [ ! -x "${CLI}" ]; then
  echo "[playground] installing the pinned Agents Playground (npm install) ..." >&2
  if ! (cd "${ROOT}" && npm install --no-audit --no-fund >&2); then
    echo "[playground] npm install failed; the bot keeps running at ${ENDPOINT}. Try 'npm install' by hand." >&2
    exit 0
  fi
fi

echo "[playground] Agents Playground -> bot at ${ENDPOINT} (channel msteams)"
echo "[playground] open http://localhost:${UI_PORT} in your browser"
export TEAMSAPPTESTER_BROWSER=none
exec "${CLI}" start --app-endpoint "${ENDPOINT}" --channel-id msteams --port "${UI_PORT}" --disable-telemetry
