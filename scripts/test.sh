#!/usr/bin/env bash
# Sets everything up and runs every check: lint, format, types, layers, unit, integration, e2e.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check src tests bench
ruff format --check src tests bench
echo "== mypy (strict)"
mypy
echo "== import layers"
lint-imports
echo "== pytest"
set +e
pytest -q -n 2 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$status"
