#!/usr/bin/env bash
# deterministic.sh - replay and size give the same answer every time: two
# replays of one trace print the same JSON apart from the times of the
# calls (the ns_per_call objects), on every target, with and without a
# partition size; two runs of size print the same JSON. Two recordings of
# the single-threaded program give the same events.
. "$(dirname "$0")/lib.sh"

# strip IN OUT: IN's JSON without the ns_per_call objects, keys sorted.
strip() {
  "$PY" - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
def drop(x):
    if isinstance(x, dict):
        return {k: drop(v) for k, v in x.items() if k != "ns_per_call"}
    if isinstance(x, list):
        return [drop(v) for v in x]
    return x
json.dump(drop(d), open(sys.argv[2], "w"), indent=1, sort_keys=True)
EOF
}

# twice WHAT TRACE [ARGS...]: two replays of TRACE compared.
twice() {
  local what=$1 trace=$2
  shift 2
  replay_json "$trace" a.json "$@"
  replay_json "$trace" b.json "$@"
  grep -q '"ns_per_call"' a.json || fail "$what: no ns_per_call in the replay's JSON"
  strip a.json a.stripped
  strip b.json b.stripped
  diff a.stripped b.stripped >diff.txt ||
    fail "$what: two replays differ beyond ns_per_call: $(head -c 1500 diff.txt)"
  pass "$what: two replays agree"
}

record calls prog_calls 32
expect_rc 0 "record prog_calls" calls.err
twice "prog_calls" calls.gjbt
twice "prog_calls, first-fit in 64K" calls.gjbt --policy first-fit --size 64K
twice "prog_calls, buddy in 64K" calls.gjbt --policy buddy --size 64K
twice "prog_calls, glibc" calls.gjbt --policy glibc

record threads prog_threads 4 300
expect_rc 0 "record prog_threads" threads.err
twice "prog_threads" threads.gjbt

record fork prog_fork
expect_rc 0 "record prog_fork" fork.err
child=$(jget fork.rec.json "[f['path'] for f in d['files'] if f['origin'] == 1][0]")
twice "prog_fork child (inherited blocks)" "$child"

# A replay that fails (partition too small): deterministic too, exit 1.
for i in 1 2; do
  run small$i "$GJBMEM" replay threads.gjbt --json --quiet --policy all --size 8K
  expect_rc 1 "replay prog_threads in 8K" small$i.err
  json_ok small$i.out "replay --json in 8K"
  strip small$i.out small$i.stripped
done
diff small1.stripped small2.stripped >diff.txt ||
  fail "replay in 8K: two replays differ: $(head -c 1500 diff.txt)"
pass "a failing replay: the same twice"

# size: the same answer twice.
for i in 1 2; do
  run size$i "$GJBMEM" size threads.gjbt --json --quiet
  expect_rc 0 "size prog_threads" size$i.err
  json_ok size$i.out "size --json"
done
cmp -s size1.out size2.out || fail "size: two runs differ: $(cat size1.out) / $(cat size2.out)"
pass "size: the same twice"

# The single-threaded program is recorded alike every time (same events,
# ids, sizes: the same figures). Not in a coverage build, where libgcov's
# calls at exit differ from run to run (it creates its data file once,
# then merges into it).
if [ "$COVERAGE" = 1 ]; then
  echo "note: coverage build: two recordings of prog_calls are not compared"
  exit 0
fi
record again prog_calls 32
replay_json calls.gjbt c1.json --policy first-fit
replay_json again.gjbt c2.json --policy first-fit
for k in events calls peak_live_bytes peak_live_blocks peak_event refused_when_recorded; do
  [ "$(jget c1.json "d['trace']['$k']")" = "$(jget c2.json "d['trace']['$k']")" ] ||
    fail "prog_calls recorded twice: $k differs"
done
pass "prog_calls recorded twice: the same figures"
