#!/bin/bash
# Run every test (unit, integration, end-to-end); installs Deno 2.9.6 with npm if it is missing.
# End-to-end tests that need the ssh/Slurm rig are skipped with a message when it is not up,
# unless DISBATCH_E2E_REQUIRE=ssh,slurm (CI) makes them fail. Bring the rig up as root with
#   bash scripts/rig/slurm-up.sh && bash scripts/rig/ssh-up.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v deno >/dev/null 2>&1 || [[ $(deno --version | head -1) != "deno 2.9.6"* ]]; then
  npm install -g deno@2.9.6
fi
exec deno task test "$@"
