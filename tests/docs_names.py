#!/usr/bin/env python3
"""docs_names.py ROOT - the tests a document cites exist.

docs/RELIABILITY.md proves each row by naming tests as `file.c`: `case`,
`case` (or `file.c` (note): ..., or `file.c` modes `a`, `b`). This fails when a named file is not
under tests/ or a named case does not appear in it, so that the page cannot
go on citing tests that were renamed, merged or deleted.
"""
import os
import re
import sys

DOCS = ["docs/RELIABILITY.md"]
CITE = re.compile(r"`([\w./-]+\.(?:c|sh))`(?:\s+modes|\s*\([^)]*\))?:\s*"
                  r"((?:`[^`]+`(?:\s*\([^)]*\))?(?:\s*,\s*|\s+and\s+)?)+)")


def sources(root):
    found = {}
    for top, _, names in os.walk(os.path.join(root, "tests")):
        for n in names:
            if n.endswith((".c", ".sh")):
                with open(os.path.join(top, n), encoding="utf-8") as f:
                    found.setdefault(n, "")
                    found[n] += f.read()
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    src = sources(root)
    bad, cited = [], 0
    for doc in DOCS:
        with open(os.path.join(root, doc), encoding="utf-8") as f:
            text = f.read()
        for m in CITE.finditer(text):
            name = os.path.basename(m.group(1))
            if name not in src:
                bad.append(f"{doc}: {m.group(1)}: no such file under tests/")
                continue
            for case in re.findall(r"`([^`]+)`", m.group(2)):
                cited += 1
                if not re.search(r"(?<![\w-])" + re.escape(case) + r"(?![\w-])", src[name]):
                    bad.append(f"{doc}: {name}: no '{case}' in it")
    for line in bad:
        print("FAIL:", line)
    if cited == 0:
        print("FAIL: no citation found (the pattern no longer matches the page?)")
        return 1
    print(f"{cited} cited tests checked, {len(bad)} missing")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
