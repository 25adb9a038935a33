#!/usr/bin/env bash
# Build what the citizen page (/citizen) serves from node_modules: Bot Framework Web Chat's browser bundle, copied
# to build/citizen/ (git-ignored) with a gzip copy beside it (the app sends that to browsers that accept gzip).
#
#   scripts/citizen_assets.sh [OUT_DIR]        default OUT_DIR: build/citizen (CITIZEN_ASSETS_DIR must match)
#
# Installs the pinned npm packages first when node_modules lacks Web Chat. Without Node.js it explains and exits 0:
# the app still runs, and the page says in Japanese that the chat cannot be shown.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-${ROOT}/build/citizen}"
SRC="${ROOT}/node_modules/botframework-webchat/dist"

if [ ! -f "${SRC}/webchat.js" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "[citizen] Node.js (npm) was not found: the citizen page cannot show Web Chat until 'npm ci' and" \
         "'make citizen-assets' have run." >&2
    exit 0
  fi
  echo "[citizen] installing the pinned npm packages (npm ci) ..." >&2
  if ! (cd "${ROOT}" && npm ci --no-audit --no-fund --loglevel=error >&2); then
    echo "[citizen] npm ci failed; the citizen page will say that the chat cannot be shown." >&2
    exit 0
  fi
fi

mkdir -p "${OUT}"
if [ -f "${OUT}/webchat.js" ] && cmp -s "${SRC}/webchat.js" "${OUT}/webchat.js" && [ -f "${OUT}/webchat.js.gz" ]; then
  exit 0                                           # up to date
fi
cp "${SRC}/webchat.js" "${OUT}/webchat.js.tmp" && mv "${OUT}/webchat.js.tmp" "${OUT}/webchat.js"
cp "${SRC}/webchat.js.LICENSE.txt" "${OUT}/" 2>/dev/null || true
gzip -9 -n -c "${OUT}/webchat.js" >"${OUT}/webchat.js.gz.tmp" && mv "${OUT}/webchat.js.gz.tmp" "${OUT}/webchat.js.gz"
# the version the bundle came from, for whoever wonders
node -e 'process.stdout.write(require(process.argv[1]).version + "\n")' \
  "${ROOT}/node_modules/botframework-webchat/package.json" >"${OUT}/VERSION" 2>/dev/null || true
echo "[citizen] Web Chat $(cat "${OUT}/VERSION" 2>/dev/null) -> ${OUT}" >&2
