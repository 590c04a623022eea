#!/usr/bin/env bash
# make deb-test: installs the .deb with apt into a clean Debian 12 root (debootstrap) and runs the installed programs there.
# Usage: scripts/deb-test.sh PACKAGE.deb
# The root has no Swift toolchain, so this shows the package's Depends are complete and nothing
# loads a library from the toolchain. Skips, saying why, when it cannot run (not root, no
# debootstrap, Debian's mirror unreachable). The minimal root is downloaded once and kept as a
# tarball in .build/deb-test/; every run unpacks a fresh copy of it.
set -euo pipefail

package=$(realpath "${1:?usage: deb-test.sh PACKAGE.deb}")
here=$(cd "$(dirname "$0")/.." && pwd)
cache="$here/.build/deb-test"
mirror=${DEB_TEST_MIRROR:-http://deb.debian.org/debian}
skip() { echo "deb-test: SKIPPED: $*"; exit 0; }

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap and chroot); run: sudo make deb-test"
command -v debootstrap >/dev/null || skip "debootstrap is not installed; run: make deb-deps"

mkdir -p "$cache"
if [ ! -s "$cache/bookworm-minbase.tar" ]; then
  echo "deb-test: creating a minimal Debian 12 root from $mirror (once; kept in $cache)"
  rm -rf "$cache/bootstrap"
  if ! debootstrap --variant=minbase bookworm "$cache/bootstrap" "$mirror" > "$cache/debootstrap.log" 2>&1; then
    tail -5 "$cache/debootstrap.log" >&2
    rm -rf "$cache/bootstrap"
    skip "debootstrap from $mirror failed (log: $cache/debootstrap.log); set DEB_TEST_MIRROR to a reachable Debian mirror"
  fi
  tar -C "$cache/bootstrap" -cf "$cache/bookworm-minbase.tar.tmp" .
  mv "$cache/bookworm-minbase.tar.tmp" "$cache/bookworm-minbase.tar"
  rm -rf "$cache/bootstrap"
fi

root=$(mktemp -d "$cache/root.XXXXXX")
cleanup() {
  umount "$root/proc" 2>/dev/null || true
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$cache/bookworm-minbase.tar"
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$package" "$root/tmp/"
name=$(basename "$package")
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

if in_root dpkg -s swiftlang >/dev/null 2>&1 || [ -e "$root/usr/bin/swift" ]; then
  echo "deb-test: the test root has a Swift toolchain; it is not clean" >&2; exit 1
fi
echo "deb-test: apt-get install ./$name in a clean Debian 12 root"
in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends "/tmp/$name" > "$cache/apt.log" 2>&1 || { tail -20 "$cache/apt.log" >&2; exit 1; }

status=0
for program in authd authctl git-credential-authctl authd-devserver; do
  [ -x "$root/usr/bin/$program" ] || { echo "deb-test: FAIL: /usr/bin/$program is not installed" >&2; status=1; }
done
for path in $(dpkg-deb -c "$package" | awk '$6 ~ /^\.\/usr\/bin\/./ {print substr($6, 2)}'); do
  # Static programs: ldd says "not a dynamic executable" (exit 1); dynamic ones must resolve every library.
  libraries=$(in_root ldd "$path" 2>&1 || true)
  if grep -q 'not found' <<<"$libraries"; then
    echo "deb-test: FAIL: $path needs a library the package's Depends do not bring:" >&2
    grep 'not found' <<<"$libraries" >&2; status=1
  fi
  if grep -Eq 'swift|/usr/share/swift|toolchain' <<<"$libraries"; then
    echo "deb-test: FAIL: $path loads from a Swift toolchain:" >&2; echo "$libraries" >&2; status=1
  fi
done
for check in "authd --version" "authctl --version" "authd-devserver --help"; do
  if output=$(in_root $check 2>&1); then
    echo "deb-test: $check: $(head -1 <<<"$output")"
  else
    echo "deb-test: FAIL: $check: $output" >&2; status=1
  fi
done
for unit in authd.service authd.socket; do
  [ -f "$root/usr/lib/systemd/user/$unit" ] || { echo "deb-test: FAIL: /usr/lib/systemd/user/$unit is missing" >&2; status=1; }
done
# The package installs the units and enables nothing: no wants/ link for any user.
if [ -n "$(find "$root/etc/systemd/user" -name 'authd*' 2>/dev/null)" ]; then
  echo "deb-test: FAIL: the package enabled a unit:" >&2; find "$root/etc/systemd/user" -name 'authd*' >&2; status=1
fi
in_root apt-get remove -y -qq authd > "$cache/apt-remove.log" 2>&1 || { echo "deb-test: FAIL: apt-get remove authd" >&2; status=1; }
[ ! -e "$root/usr/bin/authd" ] || { echo "deb-test: FAIL: /usr/bin/authd is still there after apt-get remove" >&2; status=1; }
[ "$status" = 0 ] && echo "deb-test: OK: installed, ran and removed $name in a clean Debian 12 root"
exit "$status"
