#!/usr/bin/env python3
"""stdlib_workload.py [SCALE] - an allocation-heavy tour of the Python
standard library with deterministic output (one line per step: a count and
a SHA-256 prefix of what the step built), for comparing runs under different
malloc implementations. SCALE (default 1.0) scales the sizes.

Steps: a dict of 200,000 entries (insert, update, delete, sort), json
round trips, regular expressions over a generated text, collections
(Counter, defaultdict, deque, OrderedDict, namedtuple), sorting, string and
bytes building, bytearray growth, the sqlite3 module, pickle / zlib /
hashlib, decimal and fractions, heapq / bisect / itertools, csv and
io.StringIO, and worker threads doing all of it at once.

Set iteration order depends on PYTHONHASHSEED: nothing printed here
depends on it (the workload runner sets PYTHONHASHSEED=0 as well).
"""
import bisect
import collections
import csv
import decimal
import fractions
import hashlib
import heapq
import io
import itertools
import json
import pickle
import random
import re
import sqlite3
import string
import sys
import textwrap
import threading
import zlib

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0


def n(x):
    return max(1, int(x * SCALE))


def digest(obj):
    if not isinstance(obj, (bytes, bytearray)):
        obj = repr(obj).encode()
    return hashlib.sha256(obj).hexdigest()[:16]


def out(step, count, obj):
    print(f"{step:<12} {count:>10} {digest(obj)}", flush=True)


rng = random.Random(20240501)
WORDS = sorted({"".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 10)))
                for _ in range(6000)})


def words(r, k):
    return [WORDS[r.randrange(len(WORDS))] for _ in range(k)]


def step_dict():
    N = n(200_000)
    d = {}
    for i in range(N):
        d[f"key{i * 7919 % 1000003:07d}"] = (i, WORDS[i % len(WORDS)], i * i % 97)
    for i in range(0, N, 3):
        del d[f"key{i * 7919 % 1000003:07d}"]
    for i in range(1, N, 5):
        k = f"key{i * 7919 % 1000003:07d}"
        if k in d:
            d[k] = d[k] + (str(i),)
    for i in range(N // 4):
        d[f"extra{i}"] = [i] * (i % 7)
    items = sorted(d.items())
    out("dict", len(d), items[::97])
    inv = collections.defaultdict(list)
    for k, v in d.items():
        if isinstance(v, tuple):
            inv[v[1]].append(k)
    out("dict-inv", len(inv), sorted((k, len(v)) for k, v in inv.items()))


def step_json():
    r = random.Random(1)
    docs = []
    for i in range(n(20_000)):
        docs.append({"id": i, "name": " ".join(words(r, 3)), "tags": words(r, r.randint(0, 6)),
                     "score": r.randint(0, 10**6) / 1000, "nested": {"a": [i, i * 2, {"b": i % 7}],
                                                                     "ok": i % 2 == 0, "x": None}})
    text = json.dumps(docs, sort_keys=True)
    back = json.loads(text)
    assert back == docs
    pretty = json.dumps(back[: n(2000)], indent=2, sort_keys=True)
    out("json", len(text), text.encode() + pretty.encode())


def step_re():
    r = random.Random(2)
    text = " ".join(words(r, n(300_000)))
    text = re.sub(r"(\w)(\w*)", lambda m: m.group(1).upper() + m.group(2)
                  if len(m.group(0)) > 8 else m.group(0), text)
    found = re.findall(r"\b[A-Z]\w{8,}\b", text)
    pairs = re.findall(r"\b(\w+) (\w+)\b", text[: n(200_000)])
    split = re.split(r"[aeiou]{2,}", text)
    pats = [re.compile(f"{w}[a-z]*") for w in WORDS[:300]]
    hits = sum(len(p.findall(text[:20000])) for p in pats)
    out("re", len(found) + len(pairs) + len(split) + hits,
        (found[::101], pairs[::211], split[::307], hits))


def step_collections():
    r = random.Random(3)
    ws = words(r, n(400_000))
    cnt = collections.Counter(ws)
    top = cnt.most_common(50)
    dq = collections.deque(maxlen=1000)
    for w in ws:
        dq.append(w)
        if len(w) == 3:
            dq.rotate(1)
    od = collections.OrderedDict()
    for w in ws[: n(100_000)]:
        od[w] = od.get(w, 0) + 1
        if len(od) > 2000:
            od.popitem(last=False)
        od.move_to_end(w)
    Point = collections.namedtuple("Point", "x y tag")
    pts = [Point(i % 100, i // 100, ws[i]) for i in range(n(100_000))]
    by = collections.defaultdict(set)
    for p in pts:
        by[p.x].add(p.tag)
    out("collections", len(cnt), (top, list(dq)[:50], list(od.items())[-50:],
                                  sorted((k, len(v)) for k, v in by.items())))


def step_sort():
    r = random.Random(4)
    rows = [(r.randint(0, 1000), words(r, 1)[0], r.random()) for _ in range(n(150_000))]
    a = sorted(rows)
    b = sorted(rows, key=lambda t: (t[1], -t[0]))
    c = sorted(rows, key=lambda t: t[2], reverse=True)
    strs = sorted(f"{t[1]}:{t[0]}" for t in rows)
    rows.sort(key=lambda t: t[0])  # stable
    out("sort", len(rows), (a[::997], b[::991], c[::983], strs[::977], rows[::971]))


def step_strings():
    parts = []
    for i in range(n(1_000_000)):
        parts.append(f"{i:x}-{WORDS[i % len(WORDS)]}")
    s = ",".join(parts)
    up = s.upper().replace("-", "_")
    buf = io.StringIO()
    for i in range(n(200_000)):
        buf.write(WORDS[i % 997])
        buf.write("\n" if i % 13 == 0 else " ")
    wrapped = textwrap.fill(buf.getvalue()[: n(200_000)], width=72)
    acc = ""
    for i in range(n(20_000)):  # quadratic-looking concatenation: realloc in place
        acc += WORDS[i % 500]
    bs = b"".join(w.encode() for w in parts[: n(300_000)])
    out("strings", len(s) + len(up) + len(acc) + len(bs), (s.encode()[::7], up[-1000:],
                                                          wrapped[-2000:], acc[-500:], bs[::11]))


def step_bytearray():
    ba = bytearray()
    for i in range(n(400_000)):
        ba += i.to_bytes(4, "little") * (1 + i % 5)
    big = bytes(ba) * 3
    mv = memoryview(big)[::3]
    z = zlib.compress(big, 6)
    assert zlib.decompress(z) == big
    out("bytearray", len(ba), ba + bytes(mv[:100000]) + z[:1000])


def step_sqlite():
    r = random.Random(5)
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, w TEXT, g INTEGER, v REAL, blob BLOB)")
    rows = [(i, words(r, 1)[0], r.randint(0, 99), r.random(), bytes(r.randint(0, 200)))
            for i in range(n(50_000))]
    con.executemany("INSERT INTO t VALUES(?,?,?,?,?)", rows)
    con.execute("CREATE INDEX t_g ON t(g, w)")
    con.execute("CREATE TABLE u AS SELECT g, count(*) AS c, sum(v) AS s FROM t GROUP BY g")
    con.execute("UPDATE t SET w = upper(w) WHERE g % 3 = 0")
    con.execute("DELETE FROM t WHERE id % 7 = 0")
    q1 = con.execute("SELECT g, count(*), round(sum(v), 6), max(w) FROM t GROUP BY g "
                     "ORDER BY g").fetchall()
    q2 = con.execute("SELECT t.w, u.c FROM t JOIN u ON u.g = t.g WHERE t.id % 101 = 0 "
                     "ORDER BY t.id").fetchall()
    q3 = con.execute("SELECT sum(length(blob)), group_concat(substr(w, 1, 1), '') FROM "
                     "(SELECT * FROM t ORDER BY w, id LIMIT 5000)").fetchall()
    con.close()
    out("sqlite3", len(q1) + len(q2), (q1, q2, q3))


def step_serial():
    r = random.Random(6)
    obj = {"list": [words(r, 5) for _ in range(n(10_000))],
           "map": {i: (i, str(i), [i] * (i % 5)) for i in range(n(10_000))},
           "set": frozenset(range(0, n(100_000), 7)),
           "bytes": bytes(range(256)) * 100}
    blobs = [pickle.dumps(obj, protocol=p) for p in (2, 4, 5)]
    for b in blobs:
        assert pickle.loads(b) == obj
    z = zlib.compress(blobs[-1], 9)
    h = hashlib.sha512(z).hexdigest() + hashlib.md5(blobs[0]).hexdigest()
    out("pickle-zlib", sum(len(b) for b in blobs), (len(z), h))


def step_numbers():
    decimal.getcontext().prec = 60
    d = sum((decimal.Decimal(i) / decimal.Decimal(7 + i % 13) for i in range(1, n(60_000))),
            decimal.Decimal(0))
    f = sum((fractions.Fraction(1, i) for i in range(1, n(2_000) + 1)), fractions.Fraction(0))
    big = 1
    for i in range(1, n(3_000)):
        big *= i
    out("numbers", big.bit_length(), (str(d), f.numerator % 10**30, f.denominator % 10**30,
                                      big % 10**200))


def step_heap_bisect_itertools():
    r = random.Random(7)
    h = []
    for i in range(n(200_000)):
        heapq.heappush(h, (r.randint(0, 10**6), i))
        if i % 3 == 0:
            heapq.heappop(h)
    smallest = heapq.nsmallest(100, h)
    srt = []
    for i in range(n(50_000)):
        bisect.insort(srt, r.randint(0, 10**9))
    perms = list(itertools.permutations(range(8)))
    prod = list(itertools.product("abc", repeat=7))
    groups = [(k, len(list(g))) for k, g in itertools.groupby(sorted(x % 1000 for x in srt))]
    out("heap-etc", len(h) + len(srt) + len(perms) + len(prod),
        (smallest, srt[::501], perms[::997], prod[::113], groups[::7]))


def step_csv():
    r = random.Random(8)
    buf = io.StringIO()
    w = csv.writer(buf)
    for i in range(n(100_000)):
        w.writerow([i, " ".join(words(r, 3)), f'say "{words(r, 1)[0]}"', r.randint(-999, 999)])
    text = buf.getvalue()
    rows = list(csv.reader(io.StringIO(text)))
    total = sum(int(row[3]) for row in rows)
    out("csv", len(rows), (text.encode()[::13], total))


def worker(idx, results):
    r = random.Random(100 + idx)
    acc = []
    d = {}
    for i in range(n(40_000)):
        k = f"{idx}-{r.randrange(10000)}"
        d[k] = d.get(k, "") + WORDS[r.randrange(len(WORDS))][:3]
        if i % 400 == 0:
            acc.append(json.dumps(sorted(d.items())[-5:]))
        if len(d) > 3000:
            for kk in sorted(d)[:1000]:
                del d[kk]
    results[idx] = digest((acc[::7], sorted(d.items())))


def step_threads():
    results = [None] * 4
    ts = [threading.Thread(target=worker, args=(i, results)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out("threads", len(results), results)


def main():
    for step in (step_dict, step_json, step_re, step_collections, step_sort, step_strings,
                 step_bytearray, step_sqlite, step_serial, step_numbers,
                 step_heap_bisect_itertools, step_csv, step_threads):
        step()
    print("done")


if __name__ == "__main__":
    main()
