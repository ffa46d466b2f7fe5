#!/usr/bin/env bash
# Fetch the bundled badge/PDF font (Be Vietnam Pro, Regular and Bold) from the npm registry into
# checkin/fonts/, pinned by version and checked by sha256. Re-run to verify or refresh; the result
# is committed, so nothing is downloaded at install or run time.
set -euo pipefail

PACKAGE="@expo-google-fonts/be-vietnam-pro"
VERSION="0.4.0"   # 0.4.1 ships only .ttf.png previews, no TTF files
TARBALL_SHA256="9918fe18ab18e0f2340ee523d0acaa377fc7ebdcd7fd98f4631332c9a32784cc"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$here/checkin/fonts"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
tarball="$(ls "$work"/*.tgz)"
echo "$TARBALL_SHA256  $tarball" | sha256sum --check --quiet
tar -xzf "$tarball" -C "$work"

mkdir -p "$dest"
cp "$work/package/400Regular/BeVietnamPro_400Regular.ttf" "$dest/BeVietnamPro-Regular.ttf"
cp "$work/package/700Bold/BeVietnamPro_700Bold.ttf" "$dest/BeVietnamPro-Bold.ttf"
cp "$work/package/LICENSE_FONT" "$dest/OFL.txt"

{
  echo "# Bundled fonts"
  echo
  echo "Be Vietnam Pro (Regular 400, Bold 700), SIL Open Font License 1.1: see OFL.txt."
  echo "Upstream: https://github.com/bettergui/BeVietnamPro"
  echo "Fetched by scripts/fetch-fonts.sh from the npm package $PACKAGE@$VERSION"
  echo "(package tarball sha256 $TARBALL_SHA256)."
  echo
  echo "sha256 of the files here:"
  echo
  (cd "$dest" && sha256sum BeVietnamPro-Regular.ttf BeVietnamPro-Bold.ttf OFL.txt | sed 's/^/    /')
} > "$dest/VERSIONS.md"

echo "fonts written to $dest"
