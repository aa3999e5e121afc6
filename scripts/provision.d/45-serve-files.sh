#!/usr/bin/env bash
# Clients for the `burrow serve` file and forwarding tests: sshfs (FUSE) and curl (SOCKS).
# Idempotent; packages come from the machine's own apt sources. Runs from scripts/provision,
# which exports step/die/run.
set -euo pipefail

missing=()
for p in sshfs curl; do
  [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true) == ii* ]] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  step "serve files: installing ${missing[*]}"
  run "apt-get update" apt-get update -q
  run "apt-get install ${missing[*]}" apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
else
  step "serve files: sshfs and curl already installed"
fi
# sshfs mounts need the FUSE device; containers and some CI runners lack it
[ -e /dev/fuse ] || step "serve files: /dev/fuse missing, sshfs tests will be skipped"
