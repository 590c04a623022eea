#!/usr/bin/env bash
# Builds authd_VERSION_ARCH.deb from release programs with Debian's own tools (make deb; docs/operations.md, "Debian package").
# Usage: scripts/make-deb.sh BIN_DIR OUTPUT_DIR
# The tree is `make install DESTDIR=… PREFIX=/usr`; Depends comes from dpkg-shlibdeps (what the
# programs link), the control file from dpkg-gencontrol, the archive from dpkg-deb, and lintian checks it.
set -euo pipefail

bin_dir=${1:?usage: make-deb.sh BIN_DIR OUTPUT_DIR}
out_dir=${2:?usage: make-deb.sh BIN_DIR OUTPUT_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
work="$here/.build/deb"
# dpkg-shlibdeps and dpkg-gencontrol expect the tree at debian/PACKAGE.
root="$work/debian/authd"
doc="$root/usr/share/doc/authd"

for tool in dpkg-deb dpkg-shlibdeps dpkg-gencontrol lintian patchelf readelf; do
  command -v "$tool" >/dev/null || { echo "make deb: $tool is missing; run: make deb-deps" >&2; exit 1; }
done

rm -rf "$work"
mkdir -p "$root"
make --no-print-directory -C "$here" install DESTDIR="$root" PREFIX=/usr BIN_DIR="$bin_dir" >/dev/null

# "authd 0.1.0" -> 0.1.0
version=$("$root/usr/bin/authd" --version | awk '{print $NF}')
arch=$(dpkg --print-architecture)

# No installed program may need the Swift toolchain's libraries: a clean Debian has none.
for program in "$root"/usr/bin/*; do
  if ldd "$program" 2>/dev/null | grep -E 'libswift|libFoundation|libdispatch|lib_Foundation|libBlocksRuntime' >&2; then
    echo "make deb: $program loads a Swift runtime library (above); build with swift build -c release --static-swift-stdlib (make deb does)" >&2
    exit 1
  fi
done

# SwiftPM links every program with RUNPATH $ORIGIN; nothing is loaded from /usr/bin (lintian:
# custom-library-search-path).
for program in "$root"/usr/bin/*; do
  if readelf -d "$program" 2>/dev/null | grep -q 'R*PATH'; then patchelf --remove-rpath "$program"; fi
done
# Debian policy: stripped programs, compressed man pages and changelog, docs in /usr/share/doc/authd.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root"/usr/bin/*
gzip -9n "$root"/usr/share/man/man1/*.1
install -m 0644 "$here/packaging/debian/copyright" "$doc/copyright"
install -m 0644 "$here/README.md" "$doc/README.md"
# The static programs (the clients git, docker and scripts start per request) are static on
# purpose; every other program must be dynamic and is handed to dpkg-shlibdeps.
dynamic=()
install -d "$root/usr/share/lintian/overrides"
for program in "$root"/usr/bin/*; do
  if readelf -d "$program" 2>/dev/null | grep -q NEEDED; then
    dynamic+=("-e$program")
  else
    printf '# Static on purpose: started per request, a static start is cheapest (docs/performance.md).\nauthd: statically-linked-binary [usr/bin/%s]\n' \
      "$(basename "$program")" >> "$root/usr/share/lintian/overrides/authd"
  fi
done
chmod 0644 "$root/usr/share/lintian/overrides/authd"
for page in clients configuration operations security providers; do
  install -m 0644 "$here/docs/$page.md" "$doc/$page.md"
done

cp "$here/packaging/debian/control" "$work/debian/control"
cat > "$work/debian/changelog" <<EOF
authd ($version) unstable; urgency=medium

  * Release $version, built with make deb.

 -- authd developers <authd@example.invalid>  $(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || date +%s)}")
EOF
# A native package (no Debian revision): changelog.gz, not changelog.Debian.gz.
gzip -9n -c "$work/debian/changelog" > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

cd "$work"
mkdir -p "$root/DEBIAN"
# Depends: the Debian packages of the shared libraries the programs load (libc6, libcurl4, …).
dpkg-shlibdeps -Tdebian/substvars "${dynamic[@]}"
dpkg-gencontrol -pauthd -P"$root" -Tdebian/substvars
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
find "$root" -type d -exec chmod 0755 {} +

package="$out_dir/authd_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$package" >/dev/null
echo "built $package"
grep '^Depends:' "$root/DEBIAN/control"
# --fail-on error: any lintian error fails make deb (warnings are printed, not fatal).
lintian --fail-on error --tag-display-limit 0 "$package"
echo "lintian: no errors in $package"
