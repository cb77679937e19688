#!/usr/bin/env bash
# Sets everything up and runs every check: lint, format, types, layers, unit, integration, e2e.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

# Peers the tests start themselves, from Debian's packages: chromium (browser tests, driven by
# Playwright, no browser download), OpenSSH's server (the ssh executor) and PostgreSQL (the
# store's second backend). Installed if missing.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
# PostgreSQL for the store's tests on its second backend, unless PLAIT_TEST_DATABASE_URL
# names a server of your own (tests/pg.py starts a private one as the postgres user)
if [ -z "${PLAIT_TEST_DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "== installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing ${missing[*]} and this is not root: run 'sudo apt-get install ${missing[*]}'" >&2
  fi
fi
export PLAIT_TEST_CHROMIUM=/usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

echo "== ruff"
ruff check src tests bench build_backend
ruff format --check src tests bench build_backend
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
