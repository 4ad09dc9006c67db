#!/bin/bash
# Run the example task file on two local slots; installs Deno 2.9.6 with npm if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v deno >/dev/null 2>&1; then npm install -g deno@2.9.6; fi
work=$(mktemp -d)
cp examples/Tasks "$work/Tasks"
cd "$work"
deno run -A "$OLDPWD/main.ts" -s localhost:2 Tasks
echo
echo "run directory: $work"
ls "$work" "$work/example_out"
echo "status file:"
cat "$work"/Tasks_disBatch_*_status.txt
