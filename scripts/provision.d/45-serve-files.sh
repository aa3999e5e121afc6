#!/usr/bin/env bash
# Clients for the `burrow serve` file and forwarding tests: sshfs (FUSE) and curl (SOCKS).
# Idempotent; packages come from the machine's own apt sources. Runs from scripts/provision.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/provision.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../lib/provision.sh"

ensure_packages "serve files" --no-install-recommends -- sshfs curl
# sshfs mounts need the FUSE device; containers and some CI runners lack it
[ -e /dev/fuse ] || step "serve files: /dev/fuse missing, sshfs tests will be skipped"
