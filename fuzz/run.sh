#!/usr/bin/env bash
# Builds the libFuzzer targets (AddressSanitizer + coverage) with swiftc and runs each one on a copy
# of its committed seed corpus. See docs/fuzzing.md.
#
#   fuzz/run.sh                      build, then run every target for FUZZ_SECONDS (default 20)
#   fuzz/run.sh request config       only these targets
#   fuzz/run.sh --build-only         build (or confirm the cached build) and stop
#   fuzz/run.sh --repro TARGET FILE  run one input through TARGET once (a crash artifact, a seed)
#
# Environment: FUZZ_SECONDS (per target), FUZZ_JOBS (targets fuzzed at once; default 1),
# FUZZ_OPT (-Onone, default, or -O), FUZZ_FLAGS (extra libFuzzer flags), SWIFTC,
# FUZZ_SMOKE=1 (the reproducible run of `make test`: see run_target), FUZZ_SEED (its seed; default 1).
#
# Builds go to .build-fuzz/ and are reused while the sources, harnesses, flags and compiler are
# unchanged. libFuzzer grows a scratch corpus in .build-fuzz/corpus/TARGET (the committed seeds in
# fuzz/corpus/TARGET are only read); crash inputs are written to fuzz/artifacts/. The exit status
# is non-zero when any target found a crash (or failed to build).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/.build-fuzz
ARTIFACTS=$ROOT/fuzz/artifacts
SWIFTC=${SWIFTC:-swiftc}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_OPT=${FUZZ_OPT:--Onone}
FUZZ_SMOKE=${FUZZ_SMOKE:-0}
FUZZ_SEED=${FUZZ_SEED:-1}
ALL_TARGETS=(request git-credential config oauth store)

# ---------------------------------------------------------------------------------------------
# What each module and target is made of.

module_sources() {  # the package's library modules, compiled with -enable-testing for @testable
    case $1 in
        AuthdWire) echo Sources/AuthdWire/*.swift ;;
        AuthdConfig) echo Sources/AuthdConfig/*.swift Sources/AuthdConfig/TOML/*.swift ;;
        AuthdPosix) echo Sources/AuthdPosix/*.swift ;;
        AuthdSystem) echo Sources/AuthdSystem/*.swift ;;
        AuthdOAuth) echo Sources/AuthdOAuth/*.swift ;;
        AuthdTestSupport) echo Sources/AuthdTestSupport/*.swift ;;
        AuthdStore) echo Sources/AuthdStore/*.swift ;;
    esac
}
module_deps() {  # in build order
    case $1 in
        AuthdConfig) echo AuthdWire ;;
        AuthdSystem) echo AuthdPosix AuthdWire ;;
        AuthdOAuth) echo AuthdWire AuthdConfig ;;
        AuthdTestSupport) echo AuthdPosix AuthdWire AuthdConfig AuthdOAuth ;;
        AuthdStore) echo AuthdPosix AuthdWire AuthdSystem ;;
    esac
}
target_modules() {  # modules a fuzz target links, in build order
    case $1 in
        request) echo AuthdWire ;;
        git-credential) echo AuthdWire AuthdConfig AuthdPosix ;;
        config) echo AuthdWire AuthdConfig ;;
        oauth) echo AuthdPosix AuthdWire AuthdConfig AuthdOAuth AuthdTestSupport ;;
        store) echo AuthdPosix AuthdWire AuthdSystem AuthdStore ;;
    esac
}
target_extra_sources() {  # files of executable targets compiled into the fuzzer itself
    case $1 in
        git-credential) echo Sources/git-credential-authctl/GitCredentialInput.swift ;;
    esac
}
target_libs() {
    case $1 in
        store) echo -lsodium -lsystemd -lcurl -lqrencode -lcrypto ;;
    esac
}
# libFuzzer's input size limit (default: picked from the corpus, 4096 for small seeds).
target_max_len() {
    case $1 in
        config | store) echo 16384 ;;
        # Past the parser's 64 KiB limit in long runs; such inputs cost ten times the exec/s of a smoke run.
        git-credential) if ((FUZZ_SECONDS >= 120)); then echo 72000; else echo 8192; fi ;;
        *) echo 8192 ;;
    esac
}

# One build directory per optimization level, so a long -O run does not evict the smoke run's build.
BUILD=$OUT/${FUZZ_OPT#-}
C_MODULES=(-I Sources/CPosix -I Sources/CSodium -I Sources/CSystemd -I Sources/CCurl -I Sources/CQRencode -I Sources/CLibcrypto)
COMMON=(-sanitize=fuzzer,address -parse-as-library -swift-version 6 "$FUZZ_OPT" -g "${C_MODULES[@]}" -I "$BUILD/modules")
# ld.gold warns about every ASan helper it cannot export; those lines are noise.
quiet_link() { grep -v -e "Cannot export local symbol" -e "^$" || true; }

# ---------------------------------------------------------------------------------------------
# Building, with a content hash per module and target.

hash_of() {  # hash of the given files plus compiler and flags
    { "$SWIFTC" --version 2>&1; echo "${COMMON[*]}"; cat "$@"; } | sha256sum | cut -c1-16
}

built_hash=()
build_module() {
    local m=$1 deps dep sources stamp hash
    deps=$(module_deps "$m")
    sources=$(module_sources "$m")
    # A module is rebuilt when it or anything below it changes.
    local inputs=($sources)
    for dep in $deps; do inputs+=($(module_sources "$dep")); done
    hash=$(hash_of "${inputs[@]}" Sources/C*/shim.h)
    stamp=$BUILD/modules/$m.stamp
    if [[ -f $stamp && $(cat "$stamp") == "$hash" && -f $BUILD/modules/lib$m.a ]]; then return 0; fi
    echo "fuzz: building module $m"
    mkdir -p "$BUILD/modules"
    # -wmo: one frontend job per module (faster than batch mode for these sizes on 2 cores).
    # shellcheck disable=SC2086
    # The package's own warnings are its owners' business (and shown by swift build): not repeated here.
    "$SWIFTC" "${COMMON[@]}" -wmo -enable-testing -suppress-warnings -module-name "$m" -emit-module \
        -emit-module-path "$BUILD/modules/$m.swiftmodule" -emit-library -static \
        -o "$BUILD/modules/lib$m.a" $sources
    echo "$hash" > "$stamp"
}

build_target() {
    local t=$1 m inputs=() libs=() stamp hash
    for m in $(target_modules "$t"); do
        build_module "$m"
        inputs+=($(module_sources "$m"))
        libs=("$BUILD/modules/lib$m.a" "${libs[@]}")  # static archives: users before what they use
    done
    local extra=($(target_extra_sources "$t"))
    hash=$(hash_of "${inputs[@]}" "${extra[@]}" "fuzz/targets/$t.swift" Sources/C*/shim.h)
    stamp=$BUILD/bin/$t.stamp
    if [[ -f $stamp && $(cat "$stamp") == "$hash" && -x $BUILD/bin/fuzz-$t ]]; then return 0; fi
    echo "fuzz: building fuzz-$t"
    mkdir -p "$BUILD/bin"
    # The harness and any executable-target files form one module, so their internal types are in reach.
    # shellcheck disable=SC2046
    "$SWIFTC" "${COMMON[@]}" -wmo -module-name "Fuzz_${t//-/_}" "fuzz/targets/$t.swift" "${extra[@]}" \
        "${libs[@]}" $(target_libs "$t") -o "$BUILD/bin/fuzz-$t" 2>&1 | quiet_link
    [[ ${PIPESTATUS[0]} -eq 0 ]] || return 1
    echo "$hash" > "$stamp"
}

# ---------------------------------------------------------------------------------------------
# Running.

run_target() {  # prints one summary line; returns 1 on a crash
    local t=$1 log=$OUT/logs/$t.log corpus=$OUT/corpus/$t
    # The smoke run of `make test` must give the same answer on every run of a commit: a fixed seed,
    # only the committed seeds (not a scratch corpus grown by earlier runs on this machine), no leak
    # check (the Swift runtime's and libdispatch's one-time allocations are reported depending on
    # thread timing) and a per-input timeout no loaded machine reaches. `make fuzz` stays random.
    local mode=(-timeout=5)
    if [[ $FUZZ_SMOKE == 1 ]]; then
        corpus=$OUT/smoke-corpus/$t
        rm -rf "$corpus"
        mode=(-seed="$FUZZ_SEED" -detect_leaks=0 -timeout=60)
    fi
    mkdir -p "$corpus" "$ARTIFACTS" "$OUT/logs"
    # Seeds are copied (never linked): libFuzzer only ever writes into the scratch corpus.
    if [[ -d fuzz/corpus/$t ]]; then cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true; fi
    local dict=()
    [[ -f fuzz/dict/$t.dict ]] && dict=(-dict="fuzz/dict/$t.dict")
    local status=0
    # SWIFT_BACKTRACE=enable=no: the Swift runtime's own crash handler would otherwise catch a trap
    # first, and ASan flags its memory reads (a heap-buffer-overflow in CrashHandlerLinux.cpp).
    # shellcheck disable=SC2086
    SWIFT_BACKTRACE=enable=no "$BUILD/bin/fuzz-$t" "$corpus" "${dict[@]}" -max_total_time="$FUZZ_SECONDS" "${mode[@]}" -rss_limit_mb=2048 \
        -max_len="$(target_max_len "$t")" -artifact_prefix="$ARTIFACTS/$t-" -print_final_stats=1 \
        ${FUZZ_FLAGS:-} > "$log" 2>&1 || status=$?
    local runs rate cov
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 || true)
    if [[ $status -ne 0 ]]; then
        local artifact
        artifact=$(sed -n "s/.*Test unit written to \(.*\)/\1/p" "$log" | tail -1)
        printf 'fuzz: %-15s CRASH (exit %d) after %s runs; input: %s; log: %s\n' "$t" "$status" "${runs:-?}" \
            "${artifact:-none}" "${log#"$ROOT"/}"
        grep -m1 -E "ERROR: (AddressSanitizer|libFuzzer)|Fatal error|Precondition failed|fatal error" "$log" | sed 's/^/fuzz:     /' || true
        return 1
    fi
    printf 'fuzz: %-15s ok  %9s runs  %6s exec/s  %s\n' "$t" "${runs:-?}" "${rate:-?}" "$cov"
}

repro() {
    local t=$1 file=$2
    build_target "$t"
    SWIFT_BACKTRACE=enable=no exec "$BUILD/bin/fuzz-$t" -runs=1 "$file"
}

main() {
    local build_only=0 targets=()
    while [[ $# -gt 0 ]]; do
        case $1 in
            --build-only) build_only=1 ;;
            --repro) shift; repro "$1" "$2" ;;
            -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
            *) targets+=("$1") ;;
        esac
        shift
    done
    [[ ${#targets[@]} -gt 0 ]] || targets=("${ALL_TARGETS[@]}")

    local t start failed=0
    start=$SECONDS
    for t in "${targets[@]}"; do
        [[ -f fuzz/targets/$t.swift ]] || { echo "fuzz: no target $t (have: ${ALL_TARGETS[*]})" >&2; exit 2; }
        build_target "$t" || { echo "fuzz: building $t failed" >&2; exit 1; }
    done
    echo "fuzz: builds ready after $((SECONDS - start)) s"
    [[ $build_only -eq 0 ]] || exit 0

    for t in "${targets[@]}"; do
        if [[ $FUZZ_JOBS -le 1 ]]; then
            run_target "$t" || failed=1
        else
            while [[ $(jobs -rp | wc -l) -ge $FUZZ_JOBS ]]; do wait -n || true; done
            { if run_target "$t" > "$OUT/logs/$t.summary"; then echo 0; else echo 1; fi > "$OUT/logs/$t.status"; } &
        fi
    done
    if [[ $FUZZ_JOBS -gt 1 ]]; then
        wait || true
        for t in "${targets[@]}"; do
            cat "$OUT/logs/$t.summary"
            [[ $(cat "$OUT/logs/$t.status") == 0 ]] || failed=1
        done
    fi
    echo "fuzz: done in $((SECONDS - start)) s (${FUZZ_SECONDS} s per target)"
    if [[ $failed -ne 0 ]]; then
        echo "fuzz: a target crashed; reproduce with: fuzz/run.sh --repro TARGET fuzz/artifacts/FILE" >&2
        exit 1
    fi
}

main "$@"
