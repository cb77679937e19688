#!/usr/bin/env bash
# Writes ui/src/api-types.ts (or the file given), the TypeScript types of the REST API, from the
# server's OpenAPI document (scripts/openapi.py) with openapi-typescript, a devDependency of
# ui/. Run it after changing an endpoint: tests/e2e/test_api_types.py fails while the
# committed file differs from what this writes.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-ui/src/api-types.ts}
document=$(mktemp --suffix=.json)
trap 'rm -f "$document"' EXIT
.venv/bin/python scripts/openapi.py "$document"
ui/node_modules/.bin/openapi-typescript "$document" --output "$out" --alphabetize >/dev/null
echo "wrote $out"
