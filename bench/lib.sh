# shellcheck shell=bash
# bench/lib.sh - shell helpers shared by bench/run.sh, bench/real_programs.sh,
# bench/mt.sh, bench/traces.sh and bench/cg_pairs.sh (sourced, not run).

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# Installs the Debian packages named (an empty list does nothing); a package
# that cannot be installed is logged, and the caller checks what it needs.
install_missing() {
    [ $# -gt 0 ] || return 0
    log "installing $*"
    apt-get update -qq || true
    for p in "$@"; do
        apt-get install -y -qq "$p" >/dev/null 2>&1 || log "could not install $p"
    done
}

# Extracts commit REV of the repository at ROOT into DIR, with ROOT's own
# bench/ in place of REV's (the bench measures the library as of REV).
export_rev() { # ROOT REV DIR
    rm -rf "$3" && mkdir -p "$3"
    git -C "$1" archive "$2" | tar -x -C "$3"
    rm -rf "$3/bench" && cp -r "$1/bench" "$3/bench"
}

# A clean environment for every run: unsets LD_PRELOAD (no inherited
# preload) and every GJBMEM_* variable, logging each (GJBMEM_VALIDATE,
# GJBMEM_SHOW ... would change what is measured).
clean_env() {
    local v
    unset LD_PRELOAD
    for v in $(compgen -e | grep '^GJBMEM_' || true); do
        log "unsetting $v"
        unset "$v"
    done
}

# The allocators measured through LD_PRELOAD, jemalloc, mimalloc and
# tcmalloc: sets MULTIARCH, LIB (allocator -> the library's path) and PKG
# (allocator -> its Debian package), then installs (install_missing) the
# PACKAGEs given and the packages of the libraries that are not there. The
# caller checks what it needs; a library still missing leaves its allocator
# out (alloc_table).
alloc_libs() { # [PACKAGE...]
    local need=("$@") a
    MULTIARCH=$(cc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
    declare -gA LIB=([jemalloc]=/usr/lib/$MULTIARCH/libjemalloc.so.2
                     [mimalloc]=/usr/lib/$MULTIARCH/libmimalloc.so.2
                     [tcmalloc]=/usr/lib/$MULTIARCH/libtcmalloc_minimal.so.4)
    declare -gA PKG=([jemalloc]=libjemalloc2 [mimalloc]=libmimalloc2.0 [tcmalloc]=libtcmalloc-minimal4)
    for a in jemalloc mimalloc tcmalloc; do
        [ -e "${LIB[$a]}" ] || need+=("${PKG[$a]}")
    done
    install_missing ${need[@]+"${need[@]}"}
}

# GNU time and the allocators' libraries (alloc_libs): sets GNUTIME
# (/usr/bin/time, package time, installed if missing) and what alloc_libs
# sets; exits if there is no GNU time.
time_and_libs() {
    GNUTIME=/usr/bin/time
    local need=()
    [ -x "$GNUTIME" ] || need+=(time)
    alloc_libs ${need[@]+"${need[@]}"}
    [ -x "$GNUTIME" ] || { log "$GNUTIME (package time) is needed"; exit 1; }
}

# The allocators, in table order, for library SO (libgjbmem-malloc.so):
# sets ALLOCS (glibc, gjbmem-first-fit, gjbmem-buddy, then those of
# jemalloc, mimalloc and tcmalloc whose library LIB names is there, the
# others logged and left out), PRE (allocator -> its LD_PRELOAD, empty for
# glibc) and POLICY (allocator -> its GJBMEM_POLICY, gjbmem's only).
alloc_table() { # SO
    local a
    ALLOCS=(glibc gjbmem-first-fit gjbmem-buddy)
    declare -gA PRE=([glibc]="" [gjbmem-first-fit]=$1 [gjbmem-buddy]=$1)
    # shellcheck disable=SC2034 # for the caller
    declare -gA POLICY=([gjbmem-first-fit]=first-fit [gjbmem-buddy]=buddy)
    for a in jemalloc mimalloc tcmalloc; do
        if [ -e "${LIB[$a]}" ]; then
            ALLOCS+=("$a")
            PRE[$a]=${LIB[$a]}
        else
            log "no ${LIB[$a]}: $a is left out"
        fi
    done
}

# The sources measured, as SRCROOT and BUILD: with REV empty the work tree
# ROOT, built in BUILDTOP (and REVHASH empty); else REVHASH = REV's commit,
# exported (export_rev) into BUILDTOP/src-REV and built in BUILDTOP/rev-REV
# (in those names, REV's characters other than letters, digits, '.', '_' and
# '-' become '_').
rev_source() { # ROOT REV BUILDTOP
    local revdir
    SRCROOT=$1 BUILD=$3 REVHASH=
    [ -n "$2" ] || return 0
    REVHASH=$(git -C "$1" rev-parse --verify "$2^{commit}")
    revdir=${2//[^A-Za-z0-9._-]/_}
    SRCROOT=$3/src-$revdir
    # shellcheck disable=SC2034 # for the caller
    BUILD=$3/rev-$revdir
    export_rev "$1" "$REVHASH" "$SRCROOT"
}

# Configures SRC in BUILD (Release, no tests, no examples, the CMAKE_ARGs
# given) and builds TARGET there with JOBS jobs, quietly.
cmake_build() { # SRC BUILD JOBS TARGET [CMAKE_ARG...]
    local src=$1 build=$2 jobs=$3 target=$4
    shift 4
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGJBMEM_TESTS=OFF \
        -DGJBMEM_EXAMPLES=OFF "$@" >/dev/null
    cmake --build "$build" -j"$jobs" --target "$target" >/dev/null
}

# Builds libgjbmem-malloc.so from SRC in BUILD with JOBS jobs (cmake_build)
# and sets SO to it; exits if the build made none.
build_malloc_so() { # SRC BUILD JOBS
    SO=$2/libgjbmem-malloc.so
    log "building $1 in $2"
    cmake_build "$1" "$2" "$3" gjbmem_malloc
    [ -f "$SO" ] || { log "no $SO after the build"; exit 1; }
}

# The Debian package PACKAGE and its version ("PACKAGE version unknown" if
# dpkg does not know it).
pkgver() { dpkg-query -W -f='${Package} ${Version}' "$1" 2>/dev/null || echo "$1 version unknown"; }

# The head of machine.txt, the library measured: the date, the library
# (REV = REVHASH, or the work tree at ROOT and whether its library sources
# have uncommitted changes), the file SO and its build flags from BUILD's
# CMakeCache.txt.
describe_library() { # ROOT REV REVHASH SO BUILD
    local dirty=
    echo "date: $(date -u +%FT%TZ)"
    if [ -n "$2" ]; then
        echo "library: git $2 = $(git -C "$1" rev-parse --short "$3")"
    else
        [ -z "$(git -C "$1" status --porcelain -- src include CMakeLists.txt cmake 2>/dev/null)" ] ||
            dirty=' + uncommitted changes'
        echo "library: work tree at git $(git -C "$1" rev-parse --short HEAD 2>/dev/null)$dirty"
    fi
    echo "library file: $4 (sha1 $(sha1sum "$4" | cut -c1-12))"
    echo "build: CMAKE_BUILD_TYPE=Release ($(grep -m1 '^CMAKE_C_FLAGS_RELEASE:' "$5/CMakeCache.txt" | cut -d= -f2-))"
}

# The machine for machine.txt: CPU, memory, load now, kernel, compiler,
# glibc, and the library and package of every preloaded allocator in PRE
# (alloc_table; LIB and PKG from alloc_libs).
describe_machine() {
    local a
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "nproc: $(nproc)"
    echo "mem: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "kernel: $(uname -r)"
    echo "cc: $(cc --version | head -1)"
    echo "glibc: $(ldd --version | head -1)"
    for a in jemalloc mimalloc tcmalloc; do
        [ -z "${PRE[$a]:-}" ] || echo "$a: ${LIB[$a]} ($(pkgver "${PKG[$a]}"))"
    done
}

# The first LD_DEBUG=bindings line saying that CMD, run with library LIB
# preloaded, binds malloc to LIB (nothing, and a failure status, if none).
check_binding() { # LIB CMD...
    local lib=$1
    shift
    env LD_PRELOAD="$lib" LD_DEBUG=bindings "$@" 2>&1 >/dev/null |
        grep -F "to $lib [0]: normal symbol \`malloc'" | head -1
}

# Preload check of CMD with library LIB: prints "LABEL: ok: <the binding>"
# if malloc binds to LIB (check_binding), else "LABEL: FAIL: malloc not
# bound to LIB" and returns 1.
report_binding() { # LABEL LIB CMD...
    local label=$1 lib=$2 b
    shift 2
    b=$(check_binding "$lib" "$@" || true)
    if [ -n "$b" ]; then
        echo "$label: ok: ${b#*binding file }"
    else
        echo "$label: FAIL: malloc not bound to $lib"
        return 1
    fi
}

# Preload check of the gjbmem allocator A: CMD, run with library LIB
# preloaded, GJBMEM_POLICY=POLICY and GJBMEM_SHOW=1, must print a heap table
# naming that policy. Prints "A: heap table names policy P: ok", or a FAIL
# line and returns 1.
report_policy() { # A LIB POLICY CMD...
    local a=$1 lib=$2 policy=$3 want=FIRST_FIT show
    shift 3
    [ "$policy" = buddy ] && want=BUDDY
    # (the whole output first: grep -q quitting early under pipefail would
    # make the pipeline fail on SIGPIPE)
    show=$(env LD_PRELOAD="$lib" GJBMEM_POLICY="$policy" GJBMEM_SHOW=1 "$@" 2>&1 || true)
    if grep -qi "policy $want" <<<"$show"; then
        echo "$a: heap table names policy $want: ok"
    else
        echo "$a: FAIL: GJBMEM_SHOW=1 prints no heap table naming policy $want"
        return 1
    fi
}

# Exits 1, logging its FAIL lines, unless the preload check in FILE ends
# with "failures: 0".
preload_verdict() { # FILE
    if ! grep -q '^failures: 0$' "$1"; then
        log "FAIL: the preload check failed:"
        grep FAIL "$1" >&2
        exit 1
    fi
    log "preload check ok ($1)"
}

# Reads numbers, one a line, and prints their median ("nan" if none).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Reads numbers, one a line, and prints (max - min) / median in % ("-" if
# none or the median is 0).
spread_pct() {
    sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "-"; exit }
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            if (m + 0 == 0) print "-"; else printf "%.0f%%\n", 100 * (v[NR] - v[1]) / m }'
}

# Keeps a failed run's output, SCRATCH/out and SCRATCH/err, as F.out and
# F.err (F's directory made if need be).
keep_failure() { # SCRATCH F
    mkdir -p "$(dirname "$2")"
    cp "$1/out" "$2.out"
    cp "$1/err" "$2.err"
}

# Appends the line "REP NAME ALLOC FIELDS" of one measured run to RAW and
# logs it as "[PROGRESS] rep REP NAME ALLOC: FIELDS" (PROGRESS: "i/total").
record_run() { # RAW PROGRESS REP NAME ALLOC FIELDS
    echo "$3 $4 $5 $6" >>"$1"
    log "[$2] rep $3 $4 $5: $6"
}

# The end of a run: appends the load now and the duration since T_START
# (date +%s) to OUT/machine.txt, prints "== TITLE (OUT)" and the table
# OUT/FILE, and logs the duration.
finish_run() { # OUT TITLE FILE T_START
    local t_end
    t_end=$(date +%s)
    {
        echo "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "duration: $(((t_end - $4) / 60)) min $(((t_end - $4) % 60)) s"
    } >>"$1/machine.txt"
    echo "== $2 ($1)"
    cat "$1/$3"
    log "done in $(((t_end - $4) / 60)) min $(((t_end - $4) % 60)) s"
}

# Builds bench_alloc from SRC in BUILD (Release, -O2 -g) and a copy without
# DWARF, BUILD/bench/bench_alloc.nodebug, for callgrind: with debug info
# callgrind splits a function's cost by source file (inlined header code),
# which blurs the per-function inclusive figures. BENCH_CMAKE_ARGS: more
# CMake options (for instance -DGJBMEM_HARDENING=2), split at spaces.
build_bench() { # SRC BUILD
    # shellcheck disable=SC2086
    cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DGJBMEM_TESTS=OFF \
        -DGJBMEM_EXAMPLES=OFF "-DCMAKE_C_FLAGS_RELEASE=-O2 -g -DNDEBUG" ${BENCH_CMAKE_ARGS:-} >/dev/null
    cmake --build "$2" -j2 --target bench_alloc >/dev/null
    objcopy --strip-debug "$2/bench/bench_alloc" "$2/bench/bench_alloc.nodebug"
}

# The steady loop function of bench_alloc for KIND and WORKLOAD.
loop_fn() { if [ "$2" = aligned ]; then echo "steady_aligned_$1"; else echo "steady_plain_$1"; fi; }

# callgrind_annotate output -> "cost name" per function (entries split by
# source file, if any, merged for exclusive costs; inclusive costs from the
# function's own entry, the one naming its object file).
excl_costs() {
    callgrind_annotate --auto=no --threshold=100 "$1" |
        awk '/^ *[0-9][0-9,]* \(/ { c = $1; gsub(",", "", c); n = $0; sub(/^[^)]*\) +/, "", n);
               sub(/ \[[^]]*\]$/, "", n); sub(/^.*:/, "", n); s[n] += c }
             END { for (n in s) print s[n], n }' | sort -k1,1nr
}
incl_costs() {
    callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$1" |
        awk '/^ *[0-9][0-9,]* \(/ && / \[[^]]*\]$/ { c = $1; gsub(",", "", c); n = $0;
               sub(/^[^)]*\) +/, "", n); sub(/ \[[^]]*\]$/, "", n); sub(/^.*:/, "", n); print c, n }'
}

# Runs bench_alloc BIN's steady phase (M pairs, N live) of KIND on WORKLOAD
# under callgrind into FILE, collecting only inside the steady loops, with
# library PRELOAD (if given) in LD_PRELOAD.
cg_steady() { # BIN KIND WORKLOAD N M FILE [PRELOAD]
    env ${7:+LD_PRELOAD="$7"} timeout 900 valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect="steady_plain_*" --toggle-collect="steady_aligned_*" \
        --callgrind-out-file="$6" "$1" cg-steady "$2" "$3" "$4" "$5"
}
