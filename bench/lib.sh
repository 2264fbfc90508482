# shellcheck shell=bash
# bench/lib.sh - shell helpers shared by bench/run.sh, bench/real_programs.sh
# and bench/cg_pairs.sh (sourced, not run).

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
