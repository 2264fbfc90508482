#!/usr/bin/env bash
# shm.sh - gjbmem show --shm NAME: the statistics of a partition in a named
# shared-memory object (made by shm_maker), read-only, in mem_show's layout;
# --svg draws its heap map; the object is not changed; a missing object, a
# file that is no partition, and bad arguments exit 2 with a message.
. "$(dirname "$0")/lib.sh"

name="gjbmem-show-$$"
trap 'rm -f "/dev/shm/$name" "/dev/shm/$name-junk"; rm -rf "$tmp"' EXIT
made=0
"$(prog shm_maker)" "$name" || made=$?
if [ "$made" = 77 ]; then
  echo "skip: shared partitions need hardening level 1"
  exit 0
fi
[ "$made" = 0 ] || fail "shm_maker $name"
before=$(cksum <"/dev/shm/$name")

run show "$GJBMEM" show --shm "$name"
expect_rc 0 "show --shm" show.err
grep -q '^heap show >>$' show.out || fail "show: no 'heap show >>': $(head -c 400 show.out)"
grep -q '^     HEAP         TOTAL      USED     MAX USED  SEGMENT USED%$' show.out ||
  fail "show: no mem_show header"
# 8 allocated blocks, the two freed ones apart (neither merges with a free
# neighbour), and the rest: 11 segments
grep -Eq "^gjbmem-show-[0-9]* +[0-9]+KB +[0-9]+KB +[0-9]+KB +11 +[0-9]+%$" show.out ||
  fail "show: the row: $(sed -n 5p show.out)"
grep -q '^blocks: 8 allocated, 3 free;' show.out || fail "show: the blocks line: $(tail -n 1 show.out)"
pass "show --shm: $(sed -n 5p show.out)"

run svg "$GJBMEM" show --shm "/$name" --svg map.svg
expect_rc 0 "show --svg" svg.err
grep -q '^<svg' map.svg && [ "$(grep -c '#4a4' map.svg)" -ge 8 ] ||
  fail "show --svg: not a heap map: $(head -c 300 map.svg)"
pass "show --svg: $(grep -c '<rect' map.svg) bars"

[ "$(cksum <"/dev/shm/$name")" = "$before" ] || fail "show changed the object"
pass "show: the object is unchanged"

bad() {
  run bad "$GJBMEM" show "$@"
  expect_rc 2 "gjbmem show $*" bad.err
  grep -q '^gjbmem show' bad.err || fail "gjbmem show $*: no message: $(cat bad.err)"
}
bad
bad --shm
bad --shm "$name" --bogus
bad --shm "gjbmem-none-$$"
head -c 4096 /dev/urandom >"/dev/shm/$name-junk"
bad --shm "$name-junk"
pass "show: refusals"

"$(prog shm_maker)" -d "$name" || fail "shm_maker -d $name"
[ ! -e "/dev/shm/$name" ] || fail "delete left the object"
pass "the partition deleted"
