#!/usr/bin/env bash
# Builds tiergate_<version>_<arch>.deb from a built binary with plain dpkg-deb: the package is
# a handful of files around one binary, so a debian/ source tree and debhelper (or cargo-deb,
# which would compile the workspace again) buy nothing here. What debhelper would do is done
# below in its order: strip, changelogs, shared-library dependencies, md5sums, control.
#
#   deploy/debian/build-deb.sh [--binary PATH] [--out DIR]
#
# --binary defaults to target/release/tiergate (built if absent); --out to target/debian.
# Compression is dpkg-deb's default (xz) unless DPKG_DEB_COMPRESSOR_TYPE/_LEVEL say otherwise.
# The maintainer field is DEBFULLNAME <DEBEMAIL>, as Debian's own tools read it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

binary="" out="$root/target/debian"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in dpkg-deb dpkg strip readelf gzip; do
  command -v "$tool" >/dev/null || { echo "build-deb: $tool is required" >&2; exit 1; }
done
if [ -z "$binary" ]; then
  binary="$root/target/release/tiergate"
  if [ ! -x "$binary" ]; then
    (cd "$root" && cargo build --release --locked -p tiergate-gateway)
  fi
fi
[ -x "$binary" ] || { echo "build-deb: $binary is not an executable" >&2; exit 1; }

# The version is the workspace's; the revision is the one the binary says it was built from
# (`tiergate --version`), which is what the package holds even when HEAD has moved since.
version=$(awk -F'"' '/^\[/ { s = ($0 == "[workspace.package]") } s && /^version *=/ { print $2; exit }' "$root/Cargo.toml")
[ -n "$version" ] || { echo "build-deb: no [workspace.package] version in Cargo.toml" >&2; exit 1; }
read -r _ built rev < <("$binary" --version)
rev=${rev//[()]/}
if [ "$built" != "$version" ]; then
  echo "build-deb: $binary is version $built, the workspace is $version: rebuild it" >&2
  exit 1
fi
head=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || true)
if [ -n "$head" ] && [ "$rev" != "$head" ]; then
  echo "build-deb: note: $binary was built from $rev, HEAD is $head" >&2
fi
# A timestamp before the revision keeps later commits sorting later (hashes alone do not).
upstream=$version
when=""
if [ -n "$rev" ] && [ "$rev" != unknown ]; then
  when=$(git -C "$root" show -s --format=%ct "$rev" 2>/dev/null || true)
  if [ -n "$when" ]; then
    upstream="$version+git$(date -u -d "@$when" +%Y%m%d.%H%M%S).$rev"
  else
    upstream="$version+g$rev"
  fi
fi
debversion="$upstream-1"
arch=$(dpkg --print-architecture)
# Reproducible: file times and the changelog date from the commit, when it is known.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-${when:-$(date +%s)}}
maintainer="${DEBFULLNAME:-Tiergate packagers} <${DEBEMAIL:-packaging@tiergate.invalid}>"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# dpkg-shlibdeps wants the source layout: debian/control and the package under debian/<name>.
pkg="$work/debian/tiergate"
mkdir -p "$pkg"
printf 'Source: tiergate\n\nPackage: tiergate\nArchitecture: any\n' > "$work/debian/control"

install -D -m 0755 "$binary" "$pkg/usr/bin/tiergate"
# As dh_strip: the debug information stays with the build, not on every host.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/tiergate"
install -D -m 0644 "$here/tiergate.service" "$pkg/lib/systemd/system/tiergate.service"
install -D -m 0644 "$here/tiergate.toml" "$pkg/etc/tiergate/tiergate.toml"
# root:root here; postinst gives the group to tiergate, which does not exist yet.
install -D -m 0640 "$here/tiergate.env" "$pkg/etc/tiergate/tiergate.env"
doc="$pkg/usr/share/doc/tiergate"
install -D -m 0644 "$here/copyright" "$doc/copyright"
install -m 0644 "$here/README.Debian" "$doc/README.Debian"
gzip -9n -c "$root/CHANGELOG.md" > "$doc/changelog.gz"
{
  printf 'tiergate (%s) unstable; urgency=medium\n\n' "$debversion"
  printf '  * Built from revision %s; the changes are in changelog.gz.\n\n' "${rev:-unknown}"
  printf ' -- %s  %s\n' "$maintainer" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.Debian.gz"
chmod 0644 "$doc"/*.gz
install -D -m 0644 "$here/lintian-overrides" "$pkg/usr/share/lintian/overrides/tiergate"

mkdir -m 0755 "$pkg/DEBIAN"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$pkg/DEBIAN/"
install -m 0644 "$here/conffiles" "$pkg/DEBIAN/conffiles"

# Depends: the packages of the libraries the binary links (libxmlsec1, libssl, ...).
if command -v dpkg-shlibdeps >/dev/null; then
  shlibs=$(cd "$work" && dpkg-shlibdeps -O debian/tiergate/usr/bin/tiergate)
  shlibs=${shlibs#shlibs:Depends=}
else
  # Without dpkg-dev: the package owning each library the binary names (not the libraries
  # those pull in), unversioned.
  bin="$pkg/usr/bin/tiergate"
  shlibs=$(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | while read -r name; do
      lib=$(ldd "$bin" | awk -v n="$name" '$1 == n && $3 ~ /^\// { print $3 }')
      [ -n "$lib" ] || continue # the dynamic loader itself
      dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null ||
        dpkg -S "/usr$lib" 2>/dev/null || { echo "build-deb: no package owns $lib" >&2; exit 1; }
    done | cut -d: -f1 | sort -u | paste -sd, - | sed 's/,/, /g')
fi
[ -n "$shlibs" ] || { echo "build-deb: no shared-library dependencies found" >&2; exit 1; }

(cd "$pkg" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print |
  sed 's|^\./||' | LC_ALL=C sort | xargs md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: tiergate
Version: $debversion
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $shlibs, adduser
Recommends: postgresql, redis-server
Section: net
Priority: optional
Description: gateway in front of a cloud vendor's partner API
 Tiergate lets a distributor's resellers, their staff and customers call the
 vendor's partner API with credentials of their own: it verifies each call's
 signature, decides it against the tier policy and the relationship graph,
 rate-limits it, records money-moving calls in a signed audit log, holds voucher
 quota delegations, and re-signs the call with the distributor's key. It also
 brokers SAML sign-ins between reseller identity providers and the vendor.
CONTROL

mkdir -p "$out"
deb="$out/tiergate_${debversion}_${arch}.deb"
dpkg-deb --root-owner-group --build "$pkg" "$deb" >/dev/null
echo "$deb"
