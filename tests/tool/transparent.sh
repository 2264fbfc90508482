#!/usr/bin/env bash
# transparent.sh - a recorded program behaves as it does on its own: its
# stdout, its stderr and its exit status under `gjbmem record` (without
# --json, and not on a terminal, record adds nothing to stderr) equal those
# of a plain run, for every test program and every way of ending; when a
# signal ends the program, record dies of the same signal, so that a shell
# sees 128 + the signal's number. Its input reaches it too.
. "$(dirname "$0")/lib.sh"

# same PLAIN_RC WHAT PROGRAM [ARGS...]: one plain run and one recorded run
# of test program PROGRAM; PLAIN_RC is the exit status the plain run must
# have.
same() {
  local want=$1 what=$2 p=$3
  shift 3
  rm -f t.gjbt t.gjbt.*
  run plain "$(prog "$p")" "$@"
  expect_rc "$want" "$what, plain run" plain.err
  run rec "$GJBMEM" record -o t.gjbt -- "$(prog "$p")" "$@"
  expect_rc "$want" "$what, recorded" rec.err
  cmp -s plain.out rec.out ||
    fail "$what: stdout differs: plain run '$(cat plain.out)', recorded '$(cat rec.out)'"
  cmp -s plain.err rec.err ||
    fail "$what: stderr differs: plain run '$(cat plain.err)', recorded '$(cat rec.err)'"
  [ -s t.gjbt ] || fail "$what: no trace written"
  pass "$what: same stdout, stderr and exit status $rc"
}

same 0 "prog_calls" prog_calls
same 0 "prog_calls 0" prog_calls 0
same 0 "prog_threads" prog_threads 6 200
same 0 "prog_fork" prog_fork
same 0 "prog_exec" prog_exec "$(prog prog_calls)" 2
same 0 "prog_ending return" prog_ending return
same 3 "prog_ending exit (_exit(3))" prog_ending exit
same $((128 + 9)) "prog_ending kill (SIGKILL)" prog_ending kill
same $((128 + 11)) "prog_ending segv (SIGSEGV)" prog_ending segv
same $((128 + 6)) "prog_ending abort (SIGABRT)" prog_ending abort
# An exec'd program that fails: prog_exec's own message and status.
same 127 "prog_exec of a missing program" prog_exec "$tmp/no-such-program"

# Standard input reaches the program (a Debian program, not built here).
printf 'one\ntwo\nthree\n' >in.txt
rc=0
"$GJBMEM" record -o cat.gjbt -- cat <in.txt >cat.out 2>cat.err || rc=$?
expect_rc 0 "record cat" cat.err
cmp -s in.txt cat.out || fail "record cat: the program's input did not come through: '$(cat cat.out)'"
[ -s cat.gjbt ] || fail "record cat: no trace written"
pass "record cat: input passed through"
