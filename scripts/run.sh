#!/usr/bin/env bash
# Sets plait up and runs its main job: every example workflow in examples/, in a home of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PLAIT_HOME=${PLAIT_HOME:-$PWD/.plait-home}
export PLAIT_DAGS_DIR=${PLAIT_DAGS_DIR:-$PWD/examples}
status=0
for file in examples/*.yaml; do
  echo "== plait start $file"
  .venv/bin/plait start "$file" || status=1
done
exit "$status"
