#!/usr/bin/env bash
# SSH clients that nobody here wrote, for the client-compatibility suite (tests/compat): PuTTY's
# plink/pscp/psftp, Dropbear's dbclient, lftp, curl's libssh2 (sftp://), paramiko and asyncssh
# (Debian's /usr/bin/python3), ansible-core and git; gcc and libssl-dev build the FIDO security
# key stand-in (tests/support/sk-provider.c) that OpenSSH's own client loads as its
# SecurityKeyProvider (tests/serve/sk.test.ts). Idempotent. Runs from scripts/provision.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/provision.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../lib/provision.sh"

# --no-install-recommends: dropbear-bin would otherwise bring the dropbear server and its
# init scripts; only the client is wanted.
ensure_packages clients --no-install-recommends -- \
  putty-tools dropbear-bin lftp python3-asyncssh ansible-core git curl gcc libc6-dev libssl-dev
[ -f /usr/include/openssl/evp.h ] || die "libssl-dev headers missing after package install"
for b in /usr/bin/gcc /usr/bin/plink /usr/bin/pscp /usr/bin/psftp /usr/bin/dbclient /usr/bin/lftp \
  /usr/bin/ansible /usr/bin/git; do
  [ -x "$b" ] || die "$b missing after package install"
done
/usr/bin/python3 -c 'import asyncssh, paramiko' 2>/dev/null || die "asyncssh or paramiko not importable by /usr/bin/python3"
