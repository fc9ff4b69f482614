#!/usr/bin/env bash
# Builds the Debian package of pg_erasure for one PostgreSQL major (default 15), named and laid
# out as the PostgreSQL community's packages of extensions are: postgresql-15-pg-erasure, the
# library in /usr/lib/postgresql/15/lib, the control and SQL files in
# /usr/share/postgresql/15/extension, depending on postgresql-15. Prints the .deb's path.
#   bash scripts/package.sh [MAJOR]      (make package)
# Only Debian's own PostgreSQL (15 here) has the standard layout a package installs into.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/majors.sh

major=${1:-15}
[ "$major" = 15 ] || { echo "package: only PostgreSQL 15 is packaged (Debian's layout)" >&2; exit 2; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
name=postgresql-$major-pg-erasure
root=target/debian/${name}_${version}
rm -rf "$root"
cargo pgrx package --pg-config "$(pg_config_of "$major")" --out-dir "$root" >&2
mkdir -p "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $(dpkg --print-architecture)
Maintainer: pg_erasure developers
Depends: postgresql-$major
Section: database
Priority: optional
Description: erase a data subject's personal data inside PostgreSQL $major
 pg_erasure erases a customer's personal data following per-column policies registered in
 a catalog, keeping what the law says must stay (GDPR art. 17, LGPD).
CONTROL
dpkg-deb --build --root-owner-group "$root" "target/debian/${name}_${version}_$(dpkg --print-architecture).deb" >&2
echo "target/debian/${name}_${version}_$(dpkg --print-architecture).deb"
