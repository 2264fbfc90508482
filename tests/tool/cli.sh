#!/usr/bin/env bash
# cli.sh - the command line: --help of the tool and of each subcommand
# exits 0 with a man-style page (NAME, SYNOPSIS) on stdout; --version prints
# the project's version; bad commands,
# options and arguments exit 2 with a message on stderr; record of a
# program that cannot be found or run exits 127 / 126; every --json output
# (record's on stderr, replay's and size's on stdout) parses
# (python3 -m json.tool) and holds what it should.
. "$(dirname "$0")/lib.sh"

for args in "--help" "-h" "help" "record --help" "record -h" "replay --help" "replay -h" \
            "size --help" "size -h"; do
  # shellcheck disable=SC2086
  run help "$GJBMEM" $args
  expect_rc 0 "gjbmem $args" help.err
  grep -q '^NAME$' help.out && grep -q '^SYNOPSIS$' help.out ||
    fail "gjbmem $args: no NAME and SYNOPSIS on stdout: $(head -c 300 help.out)"
  [ ! -s help.err ] || fail "gjbmem $args: wrote on stderr: $(cat help.err)"
done
pass "--help: every page"

# --version: "gjbmem MAJOR.MINOR.PATCH" on stdout, the project's version
# (GJB_PROJECT_VERSION, from CMake), exit 0, nothing on stderr.
run version "$GJBMEM" --version
expect_rc 0 "gjbmem --version" version.err
[ "$(cat version.out)" = "gjbmem ${GJB_PROJECT_VERSION:?}" ] ||
  fail "gjbmem --version: '$(head -c 200 version.out)', expected 'gjbmem $GJB_PROJECT_VERSION'"
[ ! -s version.err ] || fail "gjbmem --version: wrote on stderr: $(cat version.err)"
pass "--version: $(cat version.out)"

record t prog_calls 8
expect_rc 0 "record prog_calls" t.err

# bad CMD...: exit status 2, one message "gjbmem..." on stderr, nothing on stdout.
bad() {
  run bad "$GJBMEM" "$@"
  expect_rc 2 "gjbmem $*" bad.err
  grep -q '^gjbmem' bad.err || fail "gjbmem $*: no message on stderr: $(cat bad.err)"
  [ ! -s bad.out ] || fail "gjbmem $*: wrote on stdout: $(head -c 300 bad.out)"
}
bad
bad frobnicate
bad --frobnicate
bad record
bad record -o
bad record -o x.gjbt
bad record --bogus -o x.gjbt -- true
bad record -o /dev/null -- true # never removes a device (as root it could)
bad record -o . -- true
bad replay
bad replay t.gjbt t.gjbt
bad replay t.gjbt --bogus
bad replay t.gjbt --policy
bad replay t.gjbt --policy nope
bad replay t.gjbt --policy First-Fit
bad replay t.gjbt --size
bad replay t.gjbt --size 0
bad replay t.gjbt --size abc
bad replay t.gjbt --size -5
bad replay t.gjbt --size 12X
bad replay t.gjbt --size 99999999999999999999
bad replay t.gjbt --svg
bad size
bad size t.gjbt t.gjbt
bad size t.gjbt --bogus
bad size t.gjbt --policy glibc
bad size t.gjbt --policy nope
bad size t.gjbt --precision 0
bad size t.gjbt --precision abc
bad size t.gjbt --precision 18446744073709551615 # once looped for ever
bad size t.gjbt --precision 99999999999999999999
bad size t.gjbt --precision 1024G
bad size t.gjbt --window abc
bad size t.gjbt --window 100001
pass "bad commands and options: exit 2 with a message"

# record of a program that is missing / not executable.
run missing "$GJBMEM" record -o m.gjbt -- "$tmp/no-such-program"
expect_rc 127 "record of a missing program" missing.err
grep -q 'no-such-program' missing.err || fail "record of a missing program: no message: $(cat missing.err)"
printf 'not a program\n' >notexec
chmod 644 notexec
run notexec "$GJBMEM" record -o n.gjbt -- "$tmp/notexec"
expect_rc 126 "record of a file that is not executable" notexec.err
pass "record: 127 for a missing program, 126 for one that cannot run"

# Every --json output parses, with the keys the tool documents.
json_ok t.rec.json "record --json"
[ "$(jget t.rec.json "sorted(d)")" = "$(printf '%s\n' exit_status files peak_rss_bytes signal)" ] ||
  fail "record --json: keys $(jget t.rec.json "sorted(d)" | tr '\n' ' ')"
[ "$(jget t.rec.json "d['exit_status'], d['signal'], len(d['files'])" | tr '\n' ' ')" = "0 0 1 " ] ||
  fail "record --json: $(cat t.rec.json)"
record k prog_ending kill
json_ok k.rec.json "record --json of a killed program"
[ "$(jget k.rec.json "d['signal']")" = 9 ] || fail "record --json of a killed program: $(cat k.rec.json)"
record e prog_ending exit
[ "$(jget e.rec.json "d['exit_status']")" = 3 ] || fail "record --json of _exit(3): $(cat e.rec.json)"
for policy in all first-fit buddy glibc; do
  run j "$GJBMEM" replay t.gjbt --json --quiet --policy $policy
  expect_rc 0 "replay --json --policy $policy" j.err
  json_ok j.out "replay --json --policy $policy"
  n=$(jget j.out "len(d['results'])")
  [ "$n" = "$([ $policy = all ] && echo 3 || echo 1)" ] || fail "replay --json --policy $policy: $n results"
  same_calls "replay --json --policy $policy" "$(jget j.out "d['trace']['events']")" \
    "$(said t.out calls)" exited
done
for policy in all first-fit buddy; do
  run j "$GJBMEM" size t.gjbt --json --quiet --policy $policy
  expect_rc 0 "size --json --policy $policy" j.err
  json_ok j.out "size --json --policy $policy"
done
# The text outputs name the trace and each target.
run txt "$GJBMEM" replay t.gjbt --quiet
expect_rc 0 "replay (text)" txt.err
grep -q '^trace *t.gjbt$' txt.out || fail "replay (text): no trace line: $(cat txt.out)"
run txt "$GJBMEM" size t.gjbt --quiet
expect_rc 0 "size (text)" txt.err
grep -q '^first-fit  *[0-9]' txt.out && grep -q '^buddy  *[0-9]' txt.out ||
  fail "size (text): no size per policy: $(cat txt.out)"
pass "--json outputs parse; text outputs name what they show"
