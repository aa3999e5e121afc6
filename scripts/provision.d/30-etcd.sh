#!/usr/bin/env bash
# Peers for `burrow route` tests: etcd 3.4 (server + etcdctl) and asciinema (to check that
# recordings play). Idempotent. Installs only: etcd is never started here, because each test
# run starts its own etcd on free loopback ports with its own data dir.
# Runs from scripts/provision.
set -euo pipefail

PACKAGES=(etcd-server etcd-client asciinema)
# shellcheck source-path=SCRIPTDIR source=../lib/provision.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../lib/provision.sh"

# --no-install-recommends: Debian's etcd-server postinst only registers a service, which nothing
# starts without systemd.
ensure_packages "route peers" --no-install-recommends -- "${PACKAGES[@]}"
for b in /usr/bin/etcd /usr/bin/etcdctl /usr/bin/asciinema; do
  [ -x "$b" ] || die "$b missing after package install"
done
