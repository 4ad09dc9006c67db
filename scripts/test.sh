#!/bin/bash
# The whole test suite (unit, integration, end-to-end against a real Slurm cluster and sshd's,
# headless Chromium, tmux). First scripts/setup.sh installs what is missing when run as root
# (Deno 2.9.6, chromium, tmux, the rig) or, not as root, lists what is missing and stops.
# Arguments go to `deno test` (e.g. --filter install).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$(npm prefix -g 2>/dev/null || echo /usr/local)/bin:$PATH"
exec deno task test "$@"
