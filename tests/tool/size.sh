#!/usr/bin/env bash
# size.sh - what `gjbmem size` finds holds: for each trace, size --json
# gives per policy the smallest partition S and the precision P; replay
# --policy first-fit --size S exits 0 (nothing failed) and --size S-P
# exits 1 (an allocation failed); replay --policy buddy --size S exits 0
# and --size S-P does not (1, or 2 when BUDDY cannot even make a partition
# that small). S is a multiple of P and at least the trace's peak live
# bytes. Traces: single-threaded, multi-threaded, a fork child (inherited
# blocks), with the default precision and with --precision / --window.
. "$(dirname "$0")/lib.sh"

# verify WHAT TRACE [SIZE ARGS...]
verify() {
  local what=$1 trace=$2
  shift 2
  run size "$GJBMEM" size "$trace" --json --quiet "$@"
  expect_rc 0 "$what: size" size.err
  json_ok size.out "$what: size --json"
  local policies
  policies=$(jget size.out "' '.join(s['policy'] for s in d['sizes'])")
  for policy in $policies; do
    local s p peak
    s=$(jget size.out "[x['smallest_bytes'] for x in d['sizes'] if x['policy'] == '$policy'][0]")
    p=$(jget size.out "[x['precision_bytes'] for x in d['sizes'] if x['policy'] == '$policy'][0]")
    peak=$(jget size.out "d['trace']['peak_live_bytes']")
    [ "$s" -gt 0 ] && [ "$p" -gt 0 ] || fail "$what, $policy: size found S=$s with precision $p"
    [ $((s % p)) = 0 ] || fail "$what, $policy: S=$s is not a multiple of the precision $p"
    [ "$s" -ge "$peak" ] || fail "$what, $policy: S=$s is below the peak live bytes $peak"
    run at "$GJBMEM" replay "$trace" --policy "$policy" --size "$s" --quiet --json
    expect_rc 0 "$what, $policy: replay --size $s (size's answer)" at.err
    json_ok at.out "$what: replay --json"
    [ "$(jget at.out "d['results'][0]['failed']")" = 0 ] || fail "$what, $policy: failures at S=$s"
    run below "$GJBMEM" replay "$trace" --policy "$policy" --size $((s - p)) --quiet
    if [ "$policy" = first-fit ]; then
      expect_rc 1 "$what, $policy: replay --size $((s - p)) (one step below size's answer)" below.err
    else
      [ "$rc" = 1 ] || [ "$rc" = 2 ] ||
        fail "$what, $policy: replay --size $((s - p)) (one step below size's answer) exited $rc"
    fi
    pass "$what, $policy: S=$s fits, S-$p=$((s - p)) does not (peak live $peak)"
  done
  [ "$(echo "$policies" | wc -w)" = "${want_policies:-2}" ] ||
    fail "$what: size gave sizes for '$policies'"
}

record calls prog_calls 24
expect_rc 0 "record prog_calls" calls.err
verify "prog_calls" calls.gjbt
verify "prog_calls, --precision 64 --window 4" calls.gjbt --precision 64 --window 4
want_policies=1 verify "prog_calls, first-fit only, --precision 1K" calls.gjbt --policy first-fit --precision 1K
want_policies=1 verify "prog_calls, buddy only" calls.gjbt --policy buddy

record threads prog_threads 4 300
expect_rc 0 "record prog_threads" threads.err
verify "prog_threads" threads.gjbt

record fork prog_fork
expect_rc 0 "record prog_fork" fork.err
child=$(jget fork.rec.json "[f['path'] for f in d['files'] if f['origin'] == 1][0]")
verify "prog_fork child" "$child"
