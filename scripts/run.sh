#!/usr/bin/env bash
# Sets plait up and runs its main job: the server with the scheduler, on the embedded store,
# with the example workflows. Open http://127.0.0.1:8080/ (PLAIT_PORT changes the port).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PLAIT_HOME=${PLAIT_HOME:-$PWD/.plait-home}
export PLAIT_DAGS_DIR=${PLAIT_DAGS_DIR:-$PWD/examples}
exec .venv/bin/plait start-all --port "${PLAIT_PORT:-8080}"
