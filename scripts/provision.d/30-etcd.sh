#!/usr/bin/env bash
# Peers for `burrow route` tests: etcd 3.4 (server + etcdctl) and asciinema (to check that
# recordings play). Idempotent. Installs only: etcd is never started here, because each test
# run starts its own etcd on free loopback ports with its own data dir.
# Runs from scripts/provision, which exports step/die/run.
set -euo pipefail

PACKAGES=(etcd-server etcd-client asciinema)
# `run` (exported by scripts/provision) writes to $LOG, which is not exported with it
LOG=$(mktemp /tmp/provision-etcd.XXXXXX.log)
trap 'rm -f "$LOG"' EXIT

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ $status == ii* ]] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  step "route peers: ${PACKAGES[*]} already installed"
else
  step "route peers: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  run "apt-get update" apt-get update -q
  # --no-install-recommends: the etcd-server package would otherwise pull in nothing useful,
  # and Debian's postinst only registers a service, which nothing starts without systemd.
  run "apt-get install ${missing[*]}" \
    apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
fi
for b in /usr/bin/etcd /usr/bin/etcdctl /usr/bin/asciinema; do
  [ -x "$b" ] || die "$b missing after package install"
done
