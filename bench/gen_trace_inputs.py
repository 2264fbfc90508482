#!/usr/bin/env python3
"""gen_trace_inputs.py DIR - the inputs of bench/traces.sh that
tests/programs/gen_data.py does not make, written into DIR:

  gen.c        a C file of 200 functions over 200 structs (switches, string
               compares, a chain of calls) for gcc -O2 -c
  data.json    an array of 40,000 objects (ids, users, cities, amounts,
               tags, nested objects), about 5 MB, for jq
  tree/        40 directories of 50 text files (3,000-odd words each at
               most, from a 2,048-word vocabulary), about 13 MB, for rg
  repo.fi      a git fast-import stream: 300 commits changing 1 to 6 of 120
               files each, with fixed dates, for a git repository

The output depends on nothing but this file (fixed generators, no clock, no
hashing of strings), so every run records the same programs on the same
bytes.
"""
import json
import os
import sys


class Lcg:
    """Park-Miller minimal standard generator: fixed, portable."""

    def __init__(self, seed):
        self.x = seed % 2147483647 or 1

    def next(self):
        self.x = self.x * 16807 % 2147483647
        return self.x

    def pick(self, seq):
        return seq[self.next() % len(seq)]


CITIES = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "lambda", "theta",
          "zeta"]


def c_source(path, functions=200):
    r = Lcg(42)
    out = ["#include <stddef.h>", "#include <string.h>", ""]
    for i in range(functions):
        out.append("struct s%d { int a; long b[%d]; const char *name; struct s%d *next; };"
                   % (i, 1 + r.next() % 8, i))
    for i in range(functions):
        n = r.next() % 6 + 3
        out.append("long f%d(struct s%d *p, int n, const char *k) {" % (i, i))
        out.append("    long acc = 0;")
        out.append("    for (int j = 0; j < n; j++) {")
        out.append("        switch ((j + n) %% %d) {" % n)
        for c in range(n):
            w = r.pick(CITIES)
            out.append('        case %d: acc += p->a * %d + (long)strlen("%s%d") + '
                       '(k && !strcmp(k, "%s")); break;' % (c, r.next() % 1000, w, c, w))
        out.append("        default: acc ^= (long)p->b[0]; break;")
        out.append("        }")
        out.append("        if (p->next) p = (void *)p->next;")
        out.append("    }")
        if i:
            out.append("    return acc + f%d((struct s%d *)(void *)p, n - 1, k);" % (i - 1, i - 1))
        else:
            out.append("    return acc;")
        out.append("}")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def json_data(path, n=40000):
    r = Lcg(43)
    objs = []
    for i in range(n):
        objs.append({"id": i, "user": "u%05d" % (r.next() % 5000), "city": r.pick(CITIES),
                     "amount": r.next() % 100000 / 100,
                     "tags": [r.pick(CITIES) for _ in range(r.next() % 5)],
                     "meta": {"ok": r.next() % 2 == 0, "score": r.next() % 1000}})
    with open(path, "w") as f:
        json.dump(objs, f)


def text_tree(root, dirs=40, files=50):
    r = Lcg(7)
    words = ["w%03d" % i for i in range(2048)]
    for d in range(dirs):
        os.makedirs(os.path.join(root, "d%02d" % d), exist_ok=True)
        for k in range(files):
            lines = [" ".join(r.pick(words) for _ in range(r.next() % 10 + 2))
                     for _ in range(r.next() % 200 + 20)]
            with open(os.path.join(root, "d%02d" % d, "f%03d.txt" % k), "w") as f:
                f.write("\n".join(lines) + "\n")


def line(r, words, n):
    return " ".join(r.pick(words) for _ in range(n))


def edit(r, words, lines):
    for _ in range(r.next() % 8 + 1):
        k = r.next() % len(lines)
        op = r.next() % 3
        if op == 0:
            lines[k] = line(r, words, 8)
        elif op == 1:
            lines.insert(k, line(r, words, 6))
        elif len(lines) > 5:
            del lines[k]


def repo_stream(path, commits=300, nfiles=120):
    r = Lcg(11)
    words = ["w%03d" % i for i in range(512)]
    files = {}
    for i in range(nfiles):
        files["src/m%02d/f%03d.c" % (i % 12, i)] = [line(r, words, 8)
                                                    for _ in range(r.next() % 150 + 30)]
    names = sorted(files)
    with open(path, "wb") as out:
        for c in range(commits):
            changed = set()
            for _ in range(r.next() % 6 + 1):
                name = r.pick(names)
                edit(r, words, files[name])
                changed.add(name)
            msg = ("change %d\n" % c).encode()
            out.write(b"commit refs/heads/main\n")
            out.write(b"author Gen <gen@example.org> %d +0000\n" % (1700000000 + 60 * c))
            out.write(b"committer Gen <gen@example.org> %d +0000\n" % (1700000000 + 60 * c))
            out.write(b"data %d\n%s" % (len(msg), msg))
            for name in sorted(files if c == 0 else changed):
                data = ("\n".join(files[name]) + "\n").encode()
                out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (name.encode(), len(data), data))
            out.write(b"\n")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_trace_inputs.py DIR")
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    c_source(os.path.join(d, "gen.c"))
    json_data(os.path.join(d, "data.json"))
    text_tree(os.path.join(d, "tree"))
    repo_stream(os.path.join(d, "repo.fi"))


if __name__ == "__main__":
    main()
