# shellcheck shell=bash
# Helpers shared by scripts/provision and scripts/provision.d/*.sh (each sources this file, so no
# helper depends on a variable that a caller may have forgotten to set).
#
# BURROW_PROVISION_FORCE=1 takes every install and build branch even where its result is already
# there (apt-get runs, images are rebuilt), so a machine that already has everything still proves
# what a fresh machine would do. It defaults to 1 under CI (CI=true), 0 elsewhere.

: "${BURROW_PROVISION_FORCE:=$([ "${CI:-}" = true ] && echo 1 || echo 0)}"
export BURROW_PROVISION_FORCE

step() { printf 'provision: %s\n' "$*" >&2; }
die() { printf 'provision: FAILED: %s\n' "$*" >&2; exit 1; }

forced() { [ "$BURROW_PROVISION_FORCE" = 1 ]; }

# run DESCRIPTION CMD...: run CMD quietly; on failure show the end of its output and die.
run() {
  local what=$1 log rc=0
  shift
  log=$(mktemp /tmp/provision.XXXXXX.log) || die "mktemp for '$what'"
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$log" >&2 || true
    rm -f "$log"
    die "$what (exit $rc)"
  fi
  rm -f "$log"
}

pkg_installed() { [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true) == ii* ]]; }

APT_UPDATED=${APT_UPDATED:-0}
# apt_update once|again: once per provisioning run, or again after the sources changed
apt_update() {
  [ "$APT_UPDATED" = 1 ] && [ "$1" = once ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  run "apt-get update" apt-get update -q
  APT_UPDATED=1
  export APT_UPDATED
}

# ensure_packages WHAT [apt-get install options --] PACKAGE...: install what is missing (all of
# them when forced; apt-get then only confirms they are there).
ensure_packages() {
  local what=$1 opts=() missing=() p
  shift
  if [[ " $* " == *" -- "* ]]; then
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
  fi
  for p in "$@"; do
    if forced || ! pkg_installed "$p"; then missing+=("$p"); fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    step "$what: all $# packages already installed"
    return 0
  fi
  step "$what: installing ${missing[*]}$(forced && echo ' (forced)')"
  apt_update once
  run "apt-get install ${missing[*]}" apt-get install -y -q "${opts[@]}" \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  for p in "${missing[@]}"; do pkg_installed "$p" || die "$p not installed after apt-get install"; done
}

# start_daemon DESCRIPTION CMD...: start a program with only stdin/stdout/stderr open, so a
# daemon does not keep a caller's pipe (`scripts/test | tee`) open forever.
start_daemon() {
  local what=$1 log rc=0
  shift
  log=$(mktemp /tmp/provision.XXXXXX.log) || die "mktemp for '$what'"
  (
    for f in "/proc/$BASHPID/fd/"*; do
      fd=${f##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec "$@" </dev/null
  ) >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$log" >&2 || true
    rm -f "$log"
    die "$what (exit $rc)"
  fi
  rm -f "$log"
}
