#!/usr/bin/env bash
# svg.sh - replay --svg draws a picture that renders: rsvg-convert (Debian
# package librsvg2-bin, installed by scripts/deps.sh) turns it into a PNG
# that is not empty and has a size, for every target and for one; the
# replay's own output and exit status are unchanged by --svg.
. "$(dirname "$0")/lib.sh"

command -v rsvg-convert >/dev/null 2>&1 ||
  fail "rsvg-convert not found: scripts/deps.sh installs it (Debian package librsvg2-bin)"

# render WHAT SVG: SVG renders to a non-empty PNG of a size.
render() {
  local what=$1 svg=$2
  [ -s "$svg" ] || fail "$what: no SVG written"
  head -c 300 "$svg" | grep -q '<svg' || fail "$what: $svg is not SVG: $(head -c 200 "$svg")"
  run conv rsvg-convert "$svg" -o "$svg.png"
  expect_rc 0 "$what: rsvg-convert $svg" conv.err
  [ -s "$svg.png" ] || fail "$what: rsvg-convert wrote an empty PNG"
  "$PY" - "$svg.png" <<'PY' || fail "$what: $svg.png is not a PNG with a size"
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR", "no PNG signature"
w, h = struct.unpack(">II", b[16:24])
assert w >= 100 and h >= 100, "the picture is %dx%d" % (w, h)
PY
  pass "$what: $svg renders ($(wc -c <"$svg.png") bytes of PNG)"
}

record threads prog_threads 4 200
expect_rc 0 "record prog_threads" threads.err
run r "$GJBMEM" replay threads.gjbt --svg all.svg --quiet
expect_rc 0 "replay --svg" r.err
grep -q '^picture *all.svg$' r.out || fail "replay --svg: the output does not name the picture: $(cat r.out)"
render "every target" all.svg

run r "$GJBMEM" replay threads.gjbt --svg buddy.svg --policy buddy --json --quiet
expect_rc 0 "replay --svg --policy buddy --json" r.err
json_ok r.out "replay --svg --json"
render "buddy" buddy.svg

record fork prog_fork
child=$(jget fork.rec.json "[f['path'] for f in d['files'] if f['origin'] == 1][0]")
run r "$GJBMEM" replay "$child" --svg child.svg --policy first-fit --quiet
expect_rc 0 "replay --svg of a fork child" r.err
render "a fork child, first-fit" child.svg

# A replay whose allocations fail still draws (exit 1).
run r "$GJBMEM" replay threads.gjbt --svg small.svg --size 16K --quiet
expect_rc 1 "replay --svg --size 16K" r.err
render "a partition too small" small.svg

# An SVG that cannot be written: exit 2, a message.
run r "$GJBMEM" replay threads.gjbt --svg "$tmp/no-such-dir/x.svg" --quiet
expect_rc 2 "replay --svg into a missing directory" r.err
grep -q '^gjbmem replay: ' r.err || fail "replay --svg into a missing directory: no message: $(cat r.err)"
pass "an SVG that cannot be written is an error"
