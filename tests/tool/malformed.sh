#!/usr/bin/env bash
# malformed.sh - damaged traces are refused by replay and by size: exit
# status 2, a message "gjbmem replay: FILE: ..." (size: "gjbmem size: ...")
# on stderr naming the damage, nothing on stdout, and no crash (no signal,
# no sanitizer report). Cases: an empty file, a file that is not a trace,
# the trace of prog_calls cut at every byte, changed at every byte (one
# byte, several patterns), with another version byte, with data after its
# END record, a missing file, a directory, /dev/null.
. "$(dirname "$0")/lib.sh"

# Recorded from the programs' directory: a short command line in the
# header, so a shorter trace to cut and change at every byte.
rc=0
(cd "$GJB_TOOL_BIN" && "$GJBMEM" record -o "$tmp/base.gjbt" -- ./prog_calls 0) \
  >base.out 2>base.err || rc=$?
expect_rc 0 "record prog_calls 0" base.err
[ -s base.gjbt ] || fail "no trace recorded"
run check "$GJBMEM" replay base.gjbt --quiet
expect_rc 0 "replay of the undamaged trace" check.err
mkdir adir

"$PY" - "$GJBMEM" base.gjbt <<'EOF'
import os, subprocess, sys

gjbmem, base = sys.argv[1], sys.argv[2]
good = open(base, "rb").read()
cases = []  # (name, path, what the message must contain)

def case(name, data, want):
    path = "case-" + name
    with open(path, "wb") as f:
        f.write(data)
    cases.append((name, path, want))

case("empty", b"", "the file is empty")
case("text", b"#!/bin/sh\necho this is no trace\n", "not a gjbmem trace")
for n in range(1, len(good)):
    case("cut-%d" % n, good[:n],
         "not a gjbmem trace" if n < 8 else "the trace is truncated")
flips = (0x01, 0x80, 0xff, 0x55)
for at in range(len(good)):
    b = bytearray(good)
    b[at] ^= flips[at % len(flips)]
    case("byte-%d" % at, bytes(b), "")
for v in (0, 2, 255):
    b = bytearray(good)
    b[8] = v
    case("version-%d" % v, bytes(b), "trace format version %d; this gjbmem reads version 1" % v)
case("after-end-pad", good + b"\x0f", "data after the END record")
case("after-end-zero", good + b"\x00", "data after the END record")
case("after-end-twice", good + good, "data after the END record")
b = bytearray(good)
b[-1] ^= 0x20
case("checksum", bytes(b), "checksum mismatch")
cases.append(("missing", "no-such-file.gjbt", "cannot open: No such file or directory"))
cases.append(("directory", "adir", "not a regular file"))
cases.append(("dev-null", "/dev/null", "not a regular file"))

failures = []
for name, path, want in cases:
    for cmd in ("replay", "size"):
        p = subprocess.run([gjbmem, cmd, path, "--quiet"], capture_output=True)
        err = p.stderr.decode(errors="replace")
        prefix = "gjbmem %s: %s: " % (cmd, path)
        why = []
        if p.returncode < 0:
            why.append("killed by signal %d" % -p.returncode)
        elif p.returncode != 2:
            why.append("exit status %d, expected 2" % p.returncode)
        if p.stdout:
            why.append("stdout not empty: %r" % p.stdout[:200])
        if not err.startswith(prefix):
            why.append("stderr does not start with %r" % prefix)
        if want not in err:
            why.append("the message does not say %r" % want)
        if err.count("\n") != 1:
            why.append("not one line on stderr")
        if why:
            failures.append("%s %s: %s; stderr: %r" % (cmd, name, "; ".join(why), err[:300]))
for f in failures[:20]:
    print("FAIL:", f, file=sys.stderr)
if failures:
    print("FAIL: %d of the damaged traces were not refused properly" % len(failures),
          file=sys.stderr)
    sys.exit(1)
print("ok: %d damaged traces (%d bytes long undamaged) refused by replay and by size"
      % (len(cases), len(good)))
EOF
