#!/usr/bin/env bash
# Installs what is missing, builds, and runs profpipe on config/profpipe.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/profpipe run -c "${PROFPIPE_CONFIG:-config/profpipe.yaml}" "$@"
