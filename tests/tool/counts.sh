#!/usr/bin/env bash
# counts.sh - a recording holds every call the program made, no more, no
# less: for each process, the events counted by the END record (record
# --json) and the events replay reads (replay --json) both equal the calls
# the program says it made: single-threaded with every call of the family
# and its edge cases, multi-threaded, a fork child (its inherited blocks
# apart), an exec'd image, and programs ending by _exit, SIGKILL, SIGSEGV
# and abort. Each trace also replays on every target with exit status 0.
. "$(dirname "$0")/lib.sh"

# check_file WHAT TRACE REC_JSON CALLS [exited]: the END count of TRACE (its
# entry in record's JSON), the events replay reads and CALLS agree.
check_file() {
  local what=$1 trace=$2 rec=$3 calls=$4 exited=${5:-}
  local end
  end=$(jget "$rec" "[f['events'] for f in d['files'] if f['path'].endswith('/$trace')]")
  [ -n "$end" ] || fail "$what: $trace is not among the files record --json lists: $(cat "$rec")"
  [ "$(jget "$rec" "[f['ok'] for f in d['files'] if f['path'].endswith('/$trace')]")" = True ] ||
    fail "$what: record could not finish $trace: $(cat "$rec")"
  replay_json "$trace" "$trace.replay.json"
  local read
  read=$(jget "$trace.replay.json" "d['trace']['events']")
  [ "$read" = "$end" ] || fail "$what: replay reads $read events, the END record of $trace counts $end"
  same_calls "$what" "$end" "$calls" "$exited"
  [ "$(jget "$trace.replay.json" "sum(r['failed'] for r in d['results'])")" = 0 ] ||
    fail "$what: an allocation failed in the replay of $trace"
  pass "$what: $end events, $calls calls made"
}

# Single-threaded, every call of the family (edge cases only, then with
# 16 and 64 rounds of mixed work).
for rounds in 0 16 64; do
  record calls$rounds prog_calls $rounds
  expect_rc 0 "record prog_calls $rounds" calls$rounds.err
  check_file "prog_calls $rounds" calls$rounds.gjbt calls$rounds.rec.json \
    "$(said calls$rounds.out calls)" exited
done
# Every call of the family is in the trace, failed calls included.
json=calls0.gjbt.replay.json
for op in malloc calloc realloc reallocarray memalign posix_memalign aligned_alloc valloc pvalloc \
          free malloc_usable_size; do
  [ "$(jget $json "d['trace']['calls']['$op']")" -ge 1 ] || fail "prog_calls 0: no $op event"
done
# calloc and reallocarray overflowing, malloc(SIZE_MAX / 2), two bad
# posix_memalign alignments; realloc(p, 0) is a free, not a failure.
[ "$(jget $json "d['trace']['refused_when_recorded']")" = 5 ] ||
  fail "prog_calls 0: $(jget $json "d['trace']['refused_when_recorded']") calls failed when recorded, expected 5"
[ "$(jget $json "d['trace']['calls']['posix_memalign']")" = 3 ] ||
  fail "prog_calls 0: expected 3 posix_memalign events"
[ "$(jget $json "d['trace']['calls']['pvalloc']")" = 2 ] || fail "prog_calls 0: expected 2 pvalloc events"
pass "prog_calls: every call of the family recorded, the 5 failed ones as failed"

# Threads: 4 workers handing blocks to one another. glibc's pthread_create
# and thread exit make a few calls of their own (the thread's TLS vector),
# so the total is at least the program's and at most 4 more per thread;
# realloc and malloc_usable_size are the program's alone: exact.
threads=4 rounds=300
record threads prog_threads $threads $rounds
expect_rc 0 "record prog_threads" threads.err
made=$(said threads.out calls)
replay_json threads.gjbt threads.json
events=$(jget threads.json "d['trace']['events']")
[ "$events" -ge "$made" ] && [ "$events" -le $((made + 4 * threads + (COVERAGE == 1 ? 100 : 0))) ] ||
  fail "prog_threads: $events events recorded, the program made $made calls (+ glibc's few per thread)"
[ "$(jget threads.rec.json "d['files'][0]['events']")" = "$events" ] ||
  fail "prog_threads: the END record and replay disagree on the events"
for op in realloc malloc_usable_size memalign; do
  n=$(jget threads.json "d['trace']['calls']['$op']")
  want=$((threads * rounds))
  [ "$op" = memalign ] && want=$((threads * (rounds / 3)))
  [ "$n" = "$want" ] || fail "prog_threads: $n $op events, the program made $want"
done
[ "$(jget threads.json "d['trace']['threads']")" = $((threads + 1)) ] ||
  fail "prog_threads: $(jget threads.json "d['trace']['threads']") threads in the trace, expected $((threads + 1))"
pass "prog_threads: $events events for $made calls on $((threads + 1)) threads"

# Fork: the child's file holds its own calls after the 7 blocks it
# inherited; the parent's its own.
record fork prog_fork
expect_rc 0 "record prog_fork" fork.err
[ "$(jget fork.rec.json "len(d['files'])")" = 2 ] || fail "prog_fork: expected 2 files: $(cat fork.rec.json)"
child=$(jget fork.rec.json "[f['path'] for f in d['files'] if f['origin'] == 1][0]")
check_file "prog_fork child" "$(basename "$child")" fork.rec.json "$(said fork.out 'child calls')"
check_file "prog_fork parent" fork.gjbt fork.rec.json "$(said fork.out 'parent calls')" exited
[ "$(jget fork.rec.json "[f['inherited'] for f in d['files'] if f['origin'] == 1][0]")" = 7 ] ||
  fail "prog_fork: the child should have inherited 7 blocks: $(cat fork.rec.json)"

# Exec: the image before the exec and the one after it, each in its file.
record exec prog_exec "$(prog prog_calls)" 4
expect_rc 0 "record prog_exec" exec.err
[ "$(jget exec.rec.json "len(d['files'])")" = 2 ] || fail "prog_exec: expected 2 files: $(cat exec.rec.json)"
image=$(jget exec.rec.json "[f['path'] for f in d['files'] if f['origin'] == 2][0]")
check_file "prog_exec before exec" exec.gjbt exec.rec.json "$(said exec.out 'exec calls')"
check_file "prog_exec after exec" "$(basename "$image")" exec.rec.json "$(said exec.out calls)" exited

# Abrupt endings lose nothing: 40 calls each.
for mode in return exit kill segv abort; do
  record end-$mode prog_ending $mode
  exited=
  [ $mode = return ] && exited=exited
  check_file "prog_ending $mode" end-$mode.gjbt end-$mode.rec.json "$(said end-$mode.out calls)" $exited
done
