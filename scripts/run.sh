#!/usr/bin/env bash
# `make run`: the bot on HOST:PORT (default 127.0.0.1:3978), the citizen page at /citizen talking through a local
# Direct Line stand-in (DIRECTLINE_PORT, default 3979), and the Agents Playground pointed at the bot.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
export HOST="${HOST:-127.0.0.1}" PORT="${PORT:-3978}"
# The Agents Playground accepts files inline (data URI); Teams needs the file-consent flow (the default).
export FILE_DELIVERY="${FILE_DELIVERY:-inline}"
mkdir -p var

# The citizen page needs Direct Line. Unless a real one is configured (DIRECTLINE_SECRET in the environment or .env),
# a loopback stand-in (devtools/directline) plays it, with a secret made up for this run.
LOCAL_DIRECTLINE=0
if [ -z "${DIRECTLINE_SECRET:-}" ] && ! grep -qs '^DIRECTLINE_SECRET=' .env; then
  LOCAL_DIRECTLINE=1
  DIRECTLINE_PORT="${DIRECTLINE_PORT:-3979}"
  DIRECTLINE_SECRET="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')"
  export DIRECTLINE_SECRET DIRECTLINE_ENDPOINT="http://${HOST}:${DIRECTLINE_PORT}"
fi

# A fresh local install has nothing for /ask to search: register the fictional sample documents in the knowledge
# set サンプル (unchanged files are skipped, so this is quick after the first time). Only with the embedded default
# database; SAMPLE_DOCS=0 skips it.
if [ -z "${DATABASE_URL:-}" ] && ! grep -qs '^DATABASE_URL=' .env && [ "${SAMPLE_DOCS:-1}" != "0" ]; then
  if .venv/bin/python -m bot ingest サンプル docs/samples --title "サンプル文書（動作確認用）" >var/samples.log 2>&1; then
    echo "[run] sample documents are in the knowledge set サンプル: try /ask 年休は何日まで繰り越せますか"
  else
    echo "[run] the sample documents could not be registered (var/samples.log); /ask has nothing to search yet" >&2
  fi
  # The citizen page answers from public sets only: the fictional city pages in docs/samples-citizen.
  if [ -d docs/samples-citizen ]; then
    if .venv/bin/python -m bot ingest 市民向け docs/samples-citizen --title "市民向け（サンプル）" --public \
        >var/samples-citizen.log 2>&1; then
      echo "[run] sample city pages are in the public knowledge set 市民向け: the citizen page answers from them"
    else
      echo "[run] the sample city pages could not be registered (var/samples-citizen.log)" >&2
    fi
  fi
fi

.venv/bin/python -m bot &
BOT_PID=$!
DL_PID=""
cleanup() {
  [ -n "$DL_PID" ] && kill "$DL_PID" 2>/dev/null
  kill "$BOT_PID" 2>/dev/null
  wait "$BOT_PID" $DL_PID 2>/dev/null
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 60); do
  if ! kill -0 "$BOT_PID" 2>/dev/null; then echo "[run] the bot exited; see the messages above." >&2; exit 1; fi
  if .venv/bin/python - "$HOST" "$PORT" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/healthz", timeout=1)
PY
  sleep 0.5
done
echo "[run] bot ready: http://${HOST}:${PORT}/api/messages  (health: /healthz, readiness: /readyz)"

if [ "$LOCAL_DIRECTLINE" = 1 ]; then
  .venv/bin/python -m devtools.directline --bot "http://${HOST}:${PORT}/api/messages" --host "$HOST" \
    --port "$DIRECTLINE_PORT" &
  DL_PID=$!
fi
if [ -f build/citizen/webchat.js ] || [ -n "${CITIZEN_ASSETS_DIR:-}" ]; then
  echo "[run] citizen page: http://${HOST}:${PORT}/citizen  (Web Chat over Direct Line at ${DIRECTLINE_ENDPOINT:-the configured endpoint})"
else
  echo "[run] citizen page: http://${HOST}:${PORT}/citizen  (Web Chat is not built: run 'make citizen-assets'; the page says so until then)" >&2
fi

PLAYGROUND_BOT_HOST="$HOST" scripts/playground.sh
echo "[run] the bot keeps running; press Ctrl+C to stop it."
wait "$BOT_PID"
