#!/usr/bin/env bash
# Creates .venv and installs plait with everything its tests need. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.plait-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev,otel]'
  touch "$stamp"
fi
# Byte-compile plait once, so that no plait process pays for compiling it (even where
# PYTHONDONTWRITEBYTECODE stops Python from caching what it compiles).
.venv/bin/python -m compileall -q src >/dev/null

# The web UI: built from ui/ (npm registry packages pinned by ui/package-lock.json) into
# src/plait/api/static/, which `plait server` serves. Rebuilt only when a UI source changed.
ui_stamp=ui/dist-stamp
ui_changed() {
  [ ! -f src/plait/api/static/index.html ] || [ ! -f "$ui_stamp" ] ||
    [ -n "$(find ui/src ui/index.html ui/package.json ui/package-lock.json ui/vite.config.ts \
      ui/tsconfig.json -newer "$ui_stamp" -print -quit 2>/dev/null)" ]
}
if [ -d ui ] && ui_changed; then
  if ! command -v npm >/dev/null; then
    echo "setup: npm is missing, so the web UI cannot be built (install Node.js 20+)" >&2
    exit 1
  fi
  (
    cd ui
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error
      else
        npm install --no-audit --no-fund --loglevel=error
      fi
    fi
    npm run --silent build >/dev/null
  )
  touch "$ui_stamp"
fi
