#!/usr/bin/env python3
"""mapsizes.py MAP - bytes of code (.text input sections) a GNU ld link map
holds from each object file, largest first, on one line (for
scripts/embedded_size.sh: where the allocation paths' code comes from)."""
import collections
import re
import sys


def main():
    sizes = collections.Counter()
    lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
    started = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("Linker script and memory map"):
            started = True
        if started:
            # a long section name sits alone, its address, size, file below
            if re.match(r"^ \.text\S*\s*$", line) and i + 1 < len(lines):
                m = re.match(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)", lines[i + 1])
                if m:
                    sizes[m.group(2).split("/")[-1]] += int(m.group(1), 16)
                    i += 2
                    continue
            m = re.match(r"^ \.text\S*\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)", line)
            if m:
                sizes[m.group(2).split("/")[-1]] += int(m.group(1), 16)
        i += 1
    print(", ".join(f"{name} {n}" for name, n in sizes.most_common()))


if __name__ == "__main__":
    main()
