#!/bin/bash
# Run the example task file on two local slots and show what it made; installs Deno 2.9.6 with npm
# if it is missing. The run happens in a temporary directory, removed at the end unless --keep is
# given (then its path is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=false
[[ ${1:-} == --keep ]] && keep=true
if ! command -v deno >/dev/null 2>&1; then npm install -g deno@2.9.6; fi
work=$(mktemp -d "${TMPDIR:-/tmp}/disbatch-try.XXXXXX")
$keep || trap 'rm -rf "$work"' EXIT
cp examples/Tasks "$work/Tasks"
cd "$work"
deno run -A "$OLDPWD/main.ts" -s localhost:2 Tasks
echo
ls "$work" "$work/example_out"
echo "status file:"
cat "$work"/Tasks_disBatch_*_status.txt
if $keep; then echo "run directory (kept): $work"; else echo "(run directory removed; bash scripts/try.sh --keep keeps it)"; fi
