#!/usr/bin/env bash
# Peers for `burrow serve` tests: Incus 6.0 from bookworm-backports, incusd started by hand (no
# systemd here), a `dir` storage pool, and a locally built test image (no image server is
# reachable). Idempotent and tolerant of leftovers: Incus state survives between sessions.
# Runs from scripts/provision. Forced (BURROW_PROVISION_FORCE=1), it reinstalls nothing but still
# runs apt-get for every package, and rebuilds both images from scratch.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/provision.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../lib/provision.sh"

CACHE=/var/cache/burrow-test-images
INCUS_LOG=/var/log/incus/incusd.log
BACKPORTS_SOURCES=/etc/apt/sources.list.d/burrow-bookworm-backports.sources
IMAGE_ALIAS=burrow/debian
TINY_ALIAS=burrow/busybox
# Bump when the package list or the image layout changes, so cached tarballs are rebuilt.
IMAGE_REV=4
WAIT_SECONDS=60

# The URI of the machine's main Debian suite, read at run time from its apt sources, so no mirror
# host name is written into the repository.
debian_uri() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    # deb822 stanzas are separated by blank lines; take one whose Suites names plain `bookworm`
    awk 'BEGIN { RS = ""; FS = "\n" }
      {
        uri = ""; ok = 0; deb = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split(substr($i, 6), u, " "); uri = u[1] }
          if ($i ~ /^Suites:/ && (" " substr($i, 8) " ") ~ / bookworm /) ok = 1
          if ($i ~ /^Types:/ && $i ~ /(^|[ :])deb( |$)/) deb = 1
        }
        if (ok && deb && uri != "") { print uri; exit }
      }' "$f"
  done | head -n1 | grep . && return 0
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      if ($(i + 1) == "bookworm") { print $i; exit } }' "$f"
  done | head -n1 | grep .
}

# --- packages ---------------------------------------------------------------
URI=$(debian_uri) || die "no Debian bookworm entry found in the apt sources"
if forced || ! pkg_installed incus || ! pkg_installed debootstrap || ! pkg_installed busybox-static; then
  if [ ! -e "$BACKPORTS_SOURCES" ] || ! grep -qF "URIs: $URI" "$BACKPORTS_SOURCES"; then
    step "incus: adding bookworm-backports from $URI"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$URI" >"$BACKPORTS_SOURCES"
  fi
  step "incus: apt-get update"
  apt_update again # the lists read before this script do not know the backports suite yet
  ssh_before=$(dpkg-query -W -f='${Version}' openssh-client 2>/dev/null || true)
  # -t only for incus: the tools come from bookworm, and OpenSSH stays at bookworm's version
  # (backports has NotAutomatic, so nothing else is pulled from it unless incus needs it).
  if forced || ! pkg_installed incus; then
    step "incus: installing incus from bookworm-backports"
    run "apt-get install incus" apt-get install -y -q --no-install-recommends -t bookworm-backports \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold incus
  fi
  ensure_packages incus --no-install-recommends -- debootstrap busybox-static
  ssh_after=$(dpkg-query -W -f='${Version}' openssh-client 2>/dev/null || true)
  [ "$ssh_before" = "$ssh_after" ] || die "openssh-client changed from $ssh_before to $ssh_after"
else
  step "incus: packages already installed ($(dpkg-query -W -f='${Version}' incus))"
fi
[ -x /usr/libexec/incus/incusd ] || die "/usr/libexec/incus/incusd missing after install"

# --- daemon -----------------------------------------------------------------
# The Debian package's groups: `incus-admin` owns the admin socket (full control, as on a packaged
# host), `incus` is for incus-user's restricted projects. `burrow serve` maps its logins onto them
# (docs/security.md), so the socket's group must be the real one, not root.
for g in incus incus-admin; do
  getent group "$g" >/dev/null || run "groupadd $g" groupadd --system "$g"
done
incus_ok() { timeout 10 incus info >/dev/null 2>&1; }
if incus_ok; then
  step "incusd: already answering"
else
  # the daemon itself: `[lxc monitor]` of running containers and `incusd forkproxy` helpers carry
  # the same process name and outlive a stopped daemon, which then was never started again
  if pgrep -f '^/usr/libexec/incus/incusd( --|$)' >/dev/null; then
    step "incusd: running but not answering yet, waiting"
  else
    step "incusd: starting"
    mkdir -p "$(dirname "$INCUS_LOG")"
    # Close inherited fds above 2 (like start_daemon in scripts/provision), so the daemon does
    # not hold a caller's pipe (`scripts/test | tee`) open forever; setsid detaches it.
    (
      for f in "/proc/$BASHPID/fd/"*; do
        fd=${f##*/}
        if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
      done
      exec setsid /usr/libexec/incus/incusd --group incus-admin --logfile "$INCUS_LOG" </dev/null >>"$INCUS_LOG.out" 2>&1
    ) &
  fi
  deadline=$((SECONDS + WAIT_SECONDS))
  until incus_ok; do
    if [ $SECONDS -ge $deadline ]; then
      tail -n 20 "$INCUS_LOG" >&2 2>/dev/null || true
      die "incusd did not answer 'incus info' within ${WAIT_SECONDS}s"
    fi
    sleep 0.5
  done
  step "incusd: answering"
fi

# --- storage ----------------------------------------------------------------
if ! incus storage show default >/dev/null 2>&1; then
  step "incus: creating dir storage pool 'default'"
  run "incus storage create default dir" incus storage create default dir
fi
if ! incus profile device get default root pool >/dev/null 2>&1; then
  step "incus: adding root disk to the default profile"
  run "incus profile device add default root" incus profile device add default root disk path=/ pool=default
fi

# --- images -----------------------------------------------------------------
mkdir -p "$CACHE"
ARCH=$(uname -m)

# metadata.yaml tarball for `incus image import META ROOTFS`
write_meta() { # DIR DESCRIPTION
  mkdir -p "$1"
  printf 'architecture: %s\ncreation_date: %s\nproperties:\n  description: %s\n  os: burrow-test\n' \
    "$ARCH" "$(date +%s)" "$2" >"$1/metadata.yaml"
  tar -C "$1" -cf "$1.tar" metadata.yaml
}

build_debian() {
  local work=$CACHE/build-debian
  rm -rf "$work" && mkdir -p "$work"
  step "images: debootstrap bookworm minbase from $URI (about a minute, once)"
  # sysvinit-core: minbase has no /sbin/init and the container would not start without one.
  # sudo and passwd: tests create an unprivileged instance user with supplementary groups.
  # openssh-client (scp -O, ssh-add), openssh-server (burrow proxy incus/NAME, bench) and socat
  # (listeners and clients inside an instance that has no network) serve the forwarding tests.
  run "debootstrap" debootstrap --variant=minbase \
    --include=bash,tmux,openssh-sftp-server,rsync,procps,sysvinit-core,passwd,coreutils,openssh-client,openssh-server,socat,iproute2 \
    bookworm "$work/rootfs" "$URI"
  # sshd only when a test starts one: a resident daemon would show up in process checks
  touch "$work/rootfs/etc/ssh/sshd_not_to_be_run"
  # without a NIC nothing brings loopback up (no ifupdown in minbase); forwarding tests use it
  printf 'lo::sysinit:/sbin/ip link set lo up\n' >>"$work/rootfs/etc/inittab"
  # The container has no network: no gettys fighting over the console, no apt caches.
  sed -i '/getty/d' "$work/rootfs/etc/inittab"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" --numeric-owner -czf "$work/rootfs.tar.gz" .
  write_meta "$work/meta" 'burrow test image (Debian bookworm minbase)'
  mv "$work/rootfs.tar.gz" "$CACHE/debian-$IMAGE_REV.rootfs.tar.gz"
  mv "$work/meta.tar" "$CACHE/debian-$IMAGE_REV.meta.tar"
  rm -rf "$work"
}

build_busybox() {
  local work=$CACHE/build-busybox
  rm -rf "$work" && mkdir -p "$work/rootfs"/{bin,sbin,etc,proc,sys,dev,tmp,root,run}
  step "images: busybox rootfs"
  cp /bin/busybox "$work/rootfs/bin/busybox"
  for a in $(/bin/busybox --list); do
    [ -e "$work/rootfs/bin/$a" ] || ln -s busybox "$work/rootfs/bin/$a"
  done
  ln -sf ../bin/busybox "$work/rootfs/sbin/init"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
  printf 'root:x:0:\n' >"$work/rootfs/etc/group"
  printf '::sysinit:/bin/mount -t tmpfs tmpfs /tmp\n' >"$work/rootfs/etc/inittab"
  chmod 1777 "$work/rootfs/tmp"
  tar -C "$work/rootfs" --numeric-owner -czf "$CACHE/busybox-$IMAGE_REV.rootfs.tar.gz" .
  write_meta "$work/meta" 'burrow test image (busybox)'
  mv "$work/meta.tar" "$CACHE/busybox-$IMAGE_REV.meta.tar"
  rm -rf "$work"
}

ensure_image() { # NAME ALIAS BUILDER
  local alias=$2 rootfs=$CACHE/$1-$IMAGE_REV.rootfs.tar.gz meta=$CACHE/$1-$IMAGE_REV.meta.tar
  if forced || ! [ -s "$rootfs" ] || ! [ -s "$meta" ]; then "$3"; fi
  local want
  want=$(cat "$meta" "$rootfs" | sha256sum | cut -d' ' -f1)
  local have
  have=$(incus image info "$alias" 2>/dev/null | sed -n 's/^Fingerprint: //p' || true)
  if [ "$have" = "$want" ]; then
    step "images: $alias up to date"
    return
  fi
  step "images: importing $alias"
  [ -z "$have" ] || run "incus image delete $alias" incus image delete "$alias"
  # the same content may already be imported under no alias (a leftover): alias it instead
  if incus image info "$want" >/dev/null 2>&1; then
    run "incus image alias create $alias" incus image alias create "$alias" "$want"
  else
    run "incus image import $alias" incus image import "$meta" "$rootfs" --alias "$alias"
  fi
}

ensure_image debian "$IMAGE_ALIAS" build_debian
ensure_image busybox "$TINY_ALIAS" build_busybox
# old revisions of the cached tarballs
find "$CACHE" -maxdepth 1 -name '*.tar*' ! -name "*-$IMAGE_REV.*" -delete
step "incus: ready ($(incus version 2>/dev/null | tr '\n' ' '))"
