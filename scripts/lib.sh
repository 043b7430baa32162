# scripts/lib.sh — shared by the project's scripts: paths, logging, and running as root.
# Sourced, never run.

FASTMD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export FASTMD_ROOT

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when root, else through sudo.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "'$*' needs root and sudo is not installed"
  fi
}

jobs_for_build() { nproc 2>/dev/null || echo 2; }
