#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/).

Each seed is a short, structured operation sequence in the byte encoding the
target decodes (see the op_* functions of fuzz_mpart.c and fuzz_vmm_args.c):
a partition or a mapping is made first so that the later calls have
something to work on. Deterministic: rerunning rewrites the same files.
Usage: tests/fuzz/gen_corpus.py [output dir, default tests/fuzz/corpus]
"""
import os
import random
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def u16(v):
    return bytes([v & 0xFF, (v >> 8) & 0xFF])


# ---- fuzz_mpart ----
def m_create(off, size):
    return bytes([0, 0]) + u16(off) + u16(size)


def m_create_overlap(delta):
    return bytes([1, 4]) + u16(0) + bytes([0, delta & 0xFF, 0]) + u16(2000)


def m_size(r):
    c = r.choice([1, 1, 4, 4, 6, 7, 0])
    if c == 1:
        return bytes([c, r.randrange(256)])
    if c in (4, 6):
        return bytes([c]) + u16(r.randrange(1 << 16))
    if c == 7:
        return bytes([c, r.randrange(256)])
    return bytes([0])


def m_id(r):
    if r.random() < 0.85:
        return bytes([r.randrange(200)])
    return bytes([200 + r.randrange(56), r.randrange(256)]) + bytes(r.randrange(256) for _ in range(8))


def m_ptr(r):
    k = r.randrange(12)
    return bytes([k]) + u16(r.randrange(1 << 16)) + bytes([r.randrange(256)])


def m_op(r):
    kind = r.choice(["alloc"] * 4 + ["memalign"] * 2 + ["realloc"] * 2 + ["free"] * 3 +
                    ["max", "info", "delete", "addmem", "create", "init", "isr"])
    if kind == "alloc":
        return bytes([3]) + m_id(r) + m_size(r)
    if kind == "memalign":
        return bytes([6]) + m_id(r) + bytes([r.randrange(256)]) + u16(r.randrange(1 << 16)) + m_size(r)
    if kind == "realloc":
        return bytes([8]) + m_id(r) + m_ptr(r) + m_size(r) + bytes([r.randrange(256), r.randrange(256)])
    if kind == "free":
        return bytes([10]) + m_id(r) + m_ptr(r)
    if kind == "max":
        return bytes([13]) + m_id(r)
    if kind == "info":
        return bytes([29]) + m_id(r) + bytes([r.randrange(256)])
    if kind == "delete":
        return bytes([14]) + m_id(r)
    if kind == "addmem":
        return bytes([2]) + m_id(r) + bytes([r.randrange(8)]) + u16(r.randrange(1 << 16)) + u16(r.randrange(1 << 16))
    if kind == "create":
        return bytes([0, r.randrange(8)]) + u16(r.randrange(1 << 16)) + u16(r.randrange(1 << 16)) + bytes([r.randrange(256)] * 3)
    if kind == "init":
        return bytes([47, r.randrange(48)])
    return bytes([0xF8]) + m_op(r)  # the next call in "interrupt context"


def mpart_seeds():
    r = random.Random(7714)
    seeds = {
        "create-alloc-free": m_create(0, 8192) + bytes([3, 0, 1, 100, 3, 0, 1, 200, 10, 0, 0, 0, 0, 0, 14, 0]),
        "create-small": m_create(100, 300) + m_create(1000, 700) + m_create(3000, 1500),
        "create-overlap": m_create(0, 4096) + m_create_overlap(-8) + m_create_overlap(5),
        "memalign-all": m_create(0, 30000) + b"".join(bytes([6, 0, i, 0, 0, 1, 40]) for i in range(25)),
        "realloc-grow": m_create(0, 20000) + bytes([3, 0, 1, 64]) + b"".join(bytes([8, 0, 0, 0, 0, 4]) + u16(256 * i) + bytes([0, 0]) for i in range(1, 12)),
        "huge": m_create(0, 8192) + b"".join(bytes([3, 0, 7, i]) for i in range(18)) + b"".join(bytes([6, 0, 9, 7, i]) for i in range(18)),
        "isr": m_create(0, 8192) + bytes([0xF8, 3, 0, 1, 10, 0xF8, 13, 0, 0xF8, 14, 0]),
        "stale-id": m_create(0, 8192) + bytes([14, 0]) + bytes([3, 201, 0, 1, 10]) + m_create(0, 8192) + bytes([3, 201, 0, 1, 10]),
        "addmem": m_create(0, 4096) + b"".join(bytes([2, 0, 3]) + u16(5000 + 3000 * i) + u16(1000 + 100 * i) for i in range(10)),
        "foreign": m_create(0, 8192) + m_create(10000, 8192) + bytes([3, 0, 1, 50, 3, 1, 1, 50]) + b"".join(bytes([10, j, k, 0, 0, 0]) for j in range(2) for k in range(12)),
        "module-init": bytes([47, 3]) + m_create(0, 2000) + m_create(3000, 2000) + m_create(6000, 2000) + m_create(9000, 2000) + bytes([47, 1, 47, 0, 47, 47]),
        "fill-40": b"".join(m_create(1600 * i, 1600) for i in range(41)),
    }
    for n in range(24):
        s = m_create(r.randrange(0, 2000), r.randrange(8000, 40000))
        if r.random() < 0.5:
            s += m_create(r.randrange(42000, 50000), r.randrange(2000, 14000))
        while len(s) < r.randrange(60, 700):
            s += m_op(r)
        seeds["random-%02d" % n] = s[:1000]
    return seeds


# ---- fuzz_vmm_args ----
def v_mmap(r, anon=True, shared=False, pages=None):
    k = r.choice([1, 3]) if anon else r.choice([0, 4])
    kind = 3 if shared else 0
    extra = 0 if r.random() < 0.7 else r.randrange(20)
    prot = 3 if r.random() < 0.7 else r.randrange(8)
    lsel = 5 if pages is not None else r.choice([3, 5, 5, 0, 1, 2])
    b = bytes([0, k, kind, extra, prot, 1])
    if lsel == 5:
        b += bytes([lsel, (pages or r.randrange(1, 8)) - 1])
    elif lsel == 3:
        b += bytes([lsel]) + u16(r.randrange(1 << 16))
    else:
        b += bytes([lsel, r.randrange(256)])
    b += bytes([0, 1, r.randrange(9)])  # offset 0, addr NULL, fd kind
    return b


def v_range(r):
    return bytes([r.randrange(12), r.randrange(256), r.randrange(256), r.randrange(6), r.randrange(256), r.randrange(256), r.randrange(256)])


def v_op(r):
    kind = r.choice(["mmap"] * 3 + ["munmap"] * 2 + ["mprotect", "msync", "mremap", "mremap", "mlock", "munlock", "lockall", "madvise", "shm", "shm"])
    if kind == "mmap":
        return v_mmap(r, anon=r.random() < 0.7, shared=r.random() < 0.4)
    if kind == "munmap":
        return bytes([3]) + v_range(r)
    if kind == "mprotect":
        return bytes([5]) + v_range(r) + bytes([r.randrange(8), r.randrange(256)])
    if kind == "msync":
        return bytes([6]) + v_range(r) + bytes([r.randrange(10)])
    if kind == "mremap":
        return bytes([7]) + v_range(r) + bytes([r.randrange(8), r.randrange(256), r.randrange(256), r.randrange(8)])
    if kind == "mlock":
        return bytes([9]) + v_range(r)
    if kind == "munlock":
        return bytes([10]) + v_range(r)
    if kind == "lockall":
        return bytes([11, r.randrange(10)])
    if kind == "madvise":
        return bytes([12, r.randrange(256), r.randrange(256), r.randrange(256)])
    return bytes([13, r.randrange(256), r.randrange(9), r.randrange(6)])


def vmm_seeds():
    r = random.Random(5503)
    seeds = {
        "mmap-munmap": v_mmap(r, pages=4) + bytes([3, 0, 0, 0, 0]),
        "partial-munmap": v_mmap(r, pages=8) + bytes([3, 4, 0, 3, 3, 2]) + bytes([3, 0, 0, 0, 0]),
        "mprotect-split": v_mmap(r, pages=6) + bytes([5, 4, 0, 4, 3, 1, 1, 1]),
        "mremap-grow": v_mmap(r, pages=2) + bytes([7, 0, 0, 0, 6, 1]) + bytes([7, 0, 0, 0, 6, 2]),
        "shared-anon": v_mmap(r, shared=True, pages=3) + v_mmap(r, shared=True, pages=5),
        "file": v_mmap(r, anon=False, pages=2) + bytes([6, 0, 0, 0, 0, 0]),
        "shm": bytes([13, 8, 0, 0, 13, 40, 0, 1, 13, 0xC8, 0, 0]),
        "shm-names": b"".join(bytes([13, k, 1, 0]) for k in range(12)),
        "lock": v_mmap(r, pages=4) + bytes([9, 0, 0, 0, 0, 10, 0, 0, 0, 0, 11, 3, 11, 9]),
        "foreign": bytes([3, 6, 0, 1, 3, 11] + [0] * 8 + [5, 6, 0, 0, 1, 0, 6, 6, 0, 0]),
    }
    for n in range(24):
        s = v_mmap(r)
        while len(s) < r.randrange(40, 400):
            s += v_op(r)
        seeds["random-%02d" % n] = s[:1000]
    return seeds


for target, seeds in (("fuzz_mpart", mpart_seeds()), ("fuzz_vmm_args", vmm_seeds())):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        assert len(data) < 1024
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%s: %d seeds in %s" % (target, len(seeds), d))
