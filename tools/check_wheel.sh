#!/usr/bin/env bash
# Build a wheel, install it (not editable) into a fresh venv outside the source tree, and use it:
# the grammar and the schema must travel inside the package.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" wheel --quiet --disable-pip-version-check --no-deps -w "$work/dist" "$repo"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$work"/dist/cnnspec-*.whl
cp "$repo"/specs/*.cnn "$work/"
cd "$work"
for spec in *.cnn; do
  case "$spec" in zeros*) continue ;; esac
  "$work/venv/bin/cnnspec" check "$spec"
done
"$work/venv/bin/cnnspec" summary digits.cnn > /dev/null
echo "wheel check: ok"
