#!/usr/bin/env bash
# The tour `make demo` runs after building (build/): the documented API, then
# the gjbmem tool on a real program. Well under a minute.
#
#   1. partitions and the system heap (examples/demo_partition.c: mpart_*,
#      heap_mem_init, mem_findmax, mem_getinfo, mem_show, a BUDDY partition);
#   2. the mapping layer (the manual's mmap, msync and shm_open samples);
#   3. a real program recorded (python3 from Debian, building and sorting a
#      dictionary of records, every object through malloc), replayed on both policies and on glibc, the
#      smallest partition each policy needs, and the heap drawn into
#      build/demo/heap.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
OUT=$B/demo
mkdir -p "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$@"; }

step "1. Partitions and the system heap (examples/demo_partition.c)"
say "A partition over a static 8 KiB buffer, memory added, alloc, memalign, realloc," \
    "findmaxfree, getinfo, free, delete; then the system heap and mem_show, and a" \
    "BUDDY partition. Every step checks its result."
"$B/examples/demo_partition"

step "2. The mapping layer (the manual's samples through <mman.h>)"
for s in mman_mmap mman_msync mman_shm_open; do
    "$B/examples/$s"
done

step "3. Which policy, and how much memory, does a real program need?"
cat >"$OUT/records.py" <<'PY'
import random
random.seed(7)
records = {}
for i in range(20000):
    key = "k%06d" % random.randrange(10**6)
    records[key] = {"id": i, "name": "x" * random.randrange(1, 200), "tags": list(range(i % 17))}
    if i % 3 == 0 and records:
        records.pop(next(iter(records)))
rows = sorted(records.items(), key=lambda kv: len(kv[1]["name"]))
print(len(rows), "records kept;", sum(len(r[1]["name"]) for r in rows), "bytes of names")
PY
say "python3 builds a dictionary of 20,000 records, drops a third, sorts the rest" \
    "(PYTHONMALLOC=malloc: every object through malloc, none through Python's own pools)." \
    "" "\$ gjbmem record -o $OUT/python.gjbt -- python3 $OUT/records.py"
PYTHONMALLOC=malloc "$B/gjbmem" record -o "$OUT/python.gjbt" -- /usr/bin/python3 "$OUT/records.py"
say "" "\$ gjbmem replay $OUT/python.gjbt --svg $OUT/heap.svg"
"$B/gjbmem" replay "$OUT/python.gjbt" --svg "$OUT/heap.svg"
say "" "BUDDY's footprint reaches the end of a partition of twice what the program holds:" \
    "when an order's lowest free block is taken, its next one is the carving's highest." \
    "What each policy really needs is what size finds:" "" "\$ gjbmem size $OUT/python.gjbt"
"$B/gjbmem" size "$OUT/python.gjbt"

step "Done"
say "The picture of both heaps: $OUT/heap.svg (open it in a browser)." \
    "Record your own program:  $B/gjbmem record -o my.gjbt -- ./my-program args" \
    "then:                     $B/gjbmem replay my.gjbt; $B/gjbmem size my.gjbt" \
    "Every command has --help; docs/TRACES.md describes the trace format."
