#!/usr/bin/env bash
# `make run`: the bot on HOST:PORT (default 127.0.0.1:3978) and the Agents Playground pointed at it.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
export HOST="${HOST:-127.0.0.1}" PORT="${PORT:-3978}"
# The Agents Playground accepts files inline (data URI); Teams needs the file-consent flow (the default).
export FILE_DELIVERY="${FILE_DELIVERY:-inline}"
mkdir -p var

# A fresh local install has nothing for /ask to search: register the fictional sample documents in the knowledge
# set サンプル (unchanged files are skipped, so this is quick after the first time). Only with the embedded default
# database; SAMPLE_DOCS=0 skips it.
if [ -z "${DATABASE_URL:-}" ] && ! grep -qs '^DATABASE_URL=' .env && [ "${SAMPLE_DOCS:-1}" != "0" ]; then
  if .venv/bin/python -m bot ingest サンプル docs/samples --title "サンプル文書（動作確認用）" >var/samples.log 2>&1; then
    echo "[run] sample documents are in the knowledge set サンプル: try /ask 年休は何日まで繰り越せますか"
  else
    echo "[run] the sample documents could not be registered (var/samples.log); /ask has nothing to search yet" >&2
  fi
fi

.venv/bin/python -m bot &
BOT_PID=$!
cleanup() { kill "$BOT_PID" 2>/dev/null; wait "$BOT_PID" 2>/dev/null; }
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

PLAYGROUND_BOT_HOST="$HOST" scripts/playground.sh
echo "[run] the bot keeps running; press Ctrl+C to stop it."
wait "$BOT_PID"
