#!/usr/bin/env bash
# processes.sh - recordings of several processes: a fork child writes
# FILE.<its pid> (origin fork, its inherited blocks first), an exec'd image
# FILE.<pid> (origin exec; FILE.<pid>.2 for a second exec in the same
# process). record --json lists exactly the files on disk, all finished;
# every one of them replays on every target with exit status 0, and sizes
# (gjbmem size) with exit status 0.
. "$(dirname "$0")/lib.sh"

# files_ok WHAT NAME ORIGINS: NAME.rec.json lists every NAME.gjbt* file on
# disk, each finished, their origins sorted are ORIGINS (e.g. "0 1"), and
# each replays and sizes with exit status 0.
files_ok() {
  local what=$1 name=$2 origins=$3
  local listed on_disk
  listed=$(jget "$name.rec.json" "sorted(f['path'].rsplit('/', 1)[1] for f in d['files'])" | tr '\n' ' ')
  on_disk=$(ls "$name".gjbt* | grep -v '\.json$' | sort | tr '\n' ' ')
  [ "$listed" = "$on_disk" ] || fail "$what: record lists '$listed', the files are '$on_disk'"
  [ "$(jget "$name.rec.json" "all(f['ok'] for f in d['files'])")" = True ] ||
    fail "$what: a file was not finished: $(cat "$name.rec.json")"
  local got
  got=$(jget "$name.rec.json" "' '.join(str(o) for o in sorted(f['origin'] for f in d['files']))")
  [ "$got" = "$origins" ] || fail "$what: origins '$got', expected '$origins': $(cat "$name.rec.json")"
  for f in $on_disk; do
    run replay "$GJBMEM" replay "$f" --quiet
    expect_rc 0 "$what: replay $f" replay.err
    grep -q '^first-fit' replay.out && grep -q '^buddy' replay.out && grep -q '^glibc' replay.out ||
      fail "$what: replay $f does not show every target: $(cat replay.out)"
    run size "$GJBMEM" size "$f" --quiet
    expect_rc 0 "$what: size $f" size.err
  done
  pass "$what: files $on_disk(origins $origins) replay and size"
}

# path_of NAME ORIGIN: the file name of the (first) file of that origin.
path_of() {
  jget "$1.rec.json" "[f['path'].rsplit('/', 1)[1] for f in d['files'] if f['origin'] == $2][0]"
}

# pid_of NAME ORIGIN: the pid recorded in that file's header.
pid_of() {
  jget "$1.rec.json" "[f['pid'] for f in d['files'] if f['origin'] == $2][0]"
}

# A fork.
record fork prog_fork
expect_rc 0 "record prog_fork" fork.err
files_ok "prog_fork" fork "0 1"
[ "$(path_of fork 0)" = fork.gjbt ] || fail "prog_fork: the parent's file is $(path_of fork 0)"
[ "$(path_of fork 1)" = "fork.gjbt.$(pid_of fork 1)" ] ||
  fail "prog_fork: the child's file is $(path_of fork 1), its pid $(pid_of fork 1)"
[ "$(pid_of fork 0)" != "$(pid_of fork 1)" ] || fail "prog_fork: parent and child share a pid"
# The child's trace starts with the 7 blocks it inherited.
child=$(path_of fork 1)
replay_json "$child" child.json
[ "$(jget child.json "d['trace']['inherited']")" = 7 ] || fail "prog_fork: the child inherited $(jget child.json "d['trace']['inherited']") blocks, not 7"
[ "$(jget child.json "d['trace']['origin']")" = fork ] || fail "prog_fork: the child's origin is not fork"

# An exec: one process, two images, two files.
record exec prog_exec "$(prog prog_calls)" 2
expect_rc 0 "record prog_exec" exec.err
files_ok "prog_exec" exec "0 2"
[ "$(pid_of exec 0)" = "$(pid_of exec 2)" ] || fail "prog_exec: the exec'd image has another pid"
[ "$(path_of exec 2)" = "exec.gjbt.$(pid_of exec 0)" ] || fail "prog_exec: the exec'd image wrote $(path_of exec 2)"

# Two execs in one process: FILE, FILE.<pid>, FILE.<pid>.2.
record exec2 prog_exec "$(prog prog_exec)" "$(prog prog_calls)" 1
expect_rc 0 "record prog_exec prog_exec" exec2.err
files_ok "prog_exec twice" exec2 "0 2 2"
pid=$(pid_of exec2 0)
[ -f "exec2.gjbt.$pid" ] && [ -f "exec2.gjbt.$pid.2" ] ||
  fail "prog_exec twice: expected exec2.gjbt.$pid and exec2.gjbt.$pid.2: $(ls exec2.gjbt*)"

# An exec'd image that forks: FILE (before the exec), FILE.<pid> (after
# it, the fork's parent), FILE.<child pid>.
record execfork prog_exec "$(prog prog_fork)"
expect_rc 0 "record prog_exec prog_fork" execfork.err
files_ok "prog_exec prog_fork" execfork "0 1 2"

# Threads and an abrupt end: one file each, replayed.
record threads prog_threads 5 120
expect_rc 0 "record prog_threads" threads.err
files_ok "prog_threads" threads "0"
record killed prog_ending kill
expect_rc $((128 + 9)) "record prog_ending kill" killed.err
files_ok "prog_ending kill" killed "0"
