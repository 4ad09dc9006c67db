#!/usr/bin/env bash
# Install and start everything the test suite needs, or say exactly what is missing.
#   Deno 2.9.6 (npm install -g deno@2.9.6), Debian packages chromium, tmux, procps (and python3 when no
#   python3 is on PATH), and the test rig
#   (a real Slurm cluster and sshd's: scripts/rig/slurm-up.sh && scripts/rig/ssh-up.sh).
# As root on Debian it installs what is missing (apt-get, npm) and brings the rig up; what is already
# there is only checked (idempotent, ~2 s). Not as root, it installs nothing: it checks, and when
# something is missing it prints one line per missing part with how to get it and exits 1.
# Used by scripts/test.sh (the README's test command) and .ci/run.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DENO_VERSION=2.9.6
DEBIAN_PKGS=(chromium tmux procps)   # procps: `ps`, used by the rig scripts before they install anything
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
export DEBIAN_FRONTEND=noninteractive DENO_NO_UPDATE_CHECK=1

say() { printf '[setup] %s\n' "$*" >&2; }
missing=()   # "what: how to get it"

deno_version() { deno --version 2>/dev/null | awk 'NR == 1 {print $2}'; }
if [[ $(deno_version) != "$DENO_VERSION" ]]; then
  if ((EUID == 0)) && command -v npm >/dev/null; then
    say "installing deno@$DENO_VERSION with npm (found: $(deno_version || echo none))"
    npm install -g "deno@$DENO_VERSION" >&2 || say "npm install -g deno@$DENO_VERSION failed"
    hash -r
    [[ $(deno_version) == "$DENO_VERSION" ]] || { PATH="$(npm prefix -g)/bin:$PATH"; hash -r; }
  fi
  [[ $(deno_version) == "$DENO_VERSION" ]] ||
    missing+=("deno $DENO_VERSION (found: $(deno_version || echo none)): npm install -g deno@$DENO_VERSION")
fi

pkgs=()
for p in "${DEBIAN_PKGS[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == 'install ok installed' ]] || pkgs+=("$p")
done
# python3 (the engines' task launcher and the Python client's tests): any python3 on PATH will do, else Debian's.
command -v python3 >/dev/null || pkgs+=(python3)
if ((${#pkgs[@]})) && ((EUID == 0)) && command -v apt-get >/dev/null; then
  say "apt-get install ${pkgs[*]}"
  apt=(apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0 -q)
  for ((i = 0; i < 5; i++)); do
    "${apt[@]}" update >&2 && break
    say "apt-get update failed, retrying in 5 s"; sleep 5
  done
  "${apt[@]}" install -y --no-install-recommends "${pkgs[@]}" >&2 || say "apt-get install ${pkgs[*]} failed"
  left=()
  for p in "${pkgs[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == 'install ok installed' ]] || left+=("$p")
  done
  pkgs=("${left[@]}")
fi
for p in "${pkgs[@]}"; do missing+=("Debian package $p: apt-get install -y $p (as root)"); done

rig_up() {
  timeout 20 sinfo -h >/dev/null 2>&1 &&
    timeout 20 ssh -o BatchMode=yes -o ConnectTimeout=3 otherhost true >/dev/null 2>&1
}
if ((EUID == 0)); then
  say "bringing up the rig (scripts/rig/slurm-up.sh, ssh-up.sh)"
  bash "$ROOT/scripts/rig/slurm-up.sh" >&2 ||
    missing+=("the Slurm rig: scripts/rig/slurm-up.sh failed (logs: /tmp/disbatch-rig/log/)")
  bash "$ROOT/scripts/rig/ssh-up.sh" >&2 ||
    missing+=("the ssh rig: scripts/rig/ssh-up.sh failed (logs: /tmp/disbatch-rig/log/)")
elif ! rig_up; then
  missing+=("the test rig (Slurm + sshd): as root, bash scripts/rig/slurm-up.sh && bash scripts/rig/ssh-up.sh")
fi

if ((${#missing[@]})); then
  say "cannot run the whole test suite; missing:"
  for m in "${missing[@]}"; do printf '[setup]   %s\n' "$m" >&2; done
  ((EUID == 0)) || say "run this as root to have it installed, or install the above yourself"
  exit 1
fi
say "ready: deno $(deno_version), ${DEBIAN_PKGS[*]}, rig up"
