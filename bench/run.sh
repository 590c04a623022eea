#!/usr/bin/env bash
# make bench: authd against its peers, every comparison measured in this one run.
# Writes bench/results/<timestamp>.json (every raw number) and .md (the tables), see docs/performance.md.
#
# Environment:
#   AUTHD_BIN_DIR   release programs (default: `swift build -c release --show-bin-path`)
#   BENCH_QUICK=1   a short run (fewer runs, 1 s load steps, 10 s idle window, 100 audiences)
#   BENCH_IDLE_SECONDS, BENCH_LOAD_SECONDS, BENCH_RUNS, BENCH_AUDIENCES   override the sizes
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  RUNS=${BENCH_RUNS:-100}; LOAD_SECONDS=${BENCH_LOAD_SECONDS:-1}; IDLE_SECONDS=${BENCH_IDLE_SECONDS:-10}
  AUDIENCES=${BENCH_AUDIENCES:-100}; HOL_SECONDS=3
else
  RUNS=${BENCH_RUNS:-500}; LOAD_SECONDS=${BENCH_LOAD_SECONDS:-3}; IDLE_SECONDS=${BENCH_IDLE_SECONDS:-60}
  AUDIENCES=${BENCH_AUDIENCES:-1000}; HOL_SECONDS=10
fi

BIN=${AUTHD_BIN_DIR:-$(swift build -c release --show-bin-path)}
for p in authd authctl git-credential-authctl authd-devserver authd-loadgen; do
  [ -x "$BIN/$p" ] || { echo "bench: $BIN/$p is missing (make release, or set AUTHD_BIN_DIR)" >&2; exit 1; }
done
for c in hyperfine oidc-agent oidc-gen oidc-token git gcc python3 socat; do
  command -v "$c" >/dev/null || { echo "bench: $c is missing (make bench-deps)" >&2; exit 1; }
done
LOADGEN=$BIN/authd-loadgen

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$ROOT/bench/results
mkdir -p "$RESULTS"
W=$(mktemp -d /tmp/authd-bench-XXXXXX)
chmod 700 "$W"
RAW=$W/raw
mkdir -p "$RAW"
# Installed copies of the programs, as `make install` and the .deb put them: the linker writes its
# output through mmap, which leaves the file in the page cache as 4 KiB folios, while a file written
# with write(2) (or read back from disk) is cached in large folios that a page fault maps for less.
# The same authctl measured 0.93 ms as linked and 0.72 ms as installed (docs/performance.md, "Method").
mkdir -p "$W/bin"
for p in authd authctl git-credential-authctl authd-devserver authd-loadgen; do install -m 0755 "$BIN/$p" "$W/bin/$p"; done
BIN=$W/bin
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "${OIDCD_PID:-}" ] && kill "$OIDCD_PID" 2>/dev/null || true
  [ -S "$W/gitcache/sock" ] && git credential-cache --socket "$W/gitcache/sock" exit 2>/dev/null || true
  sleep 0.2
  rm -rf "$W"
}
trap cleanup EXIT
log() { echo "bench: $*" >&2; }
elapsed() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.3f", t1 - t0 }'; }

# ---------------------------------------------------------------- machine
{
  echo "{"
  echo "\"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\","
  echo "\"cores\": $(nproc),"
  echo "\"kernel\": \"$(uname -r)\","
  echo "\"swift\": \"$(swift --version 2>/dev/null | head -1 | sed 's/"/\\"/g')\","
  echo "\"oidc_agent\": \"$(oidc-agent --version 2>&1 | head -1)\","
  echo "\"git\": \"$(git --version)\","
  echo "\"hyperfine\": \"$(hyperfine --version)\","
  echo "\"loadavg_at_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo "\"quick\": $QUICK"
  echo "}"
} > "$RAW/machine.json"

# ---------------------------------------------------------------- set-up
export HOME=$W/home XDG_RUNTIME_DIR=$W/run XDG_CONFIG_HOME=$W/config XDG_STATE_HOME=$W/state
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME" "$XDG_STATE_HOME"
chmod 700 "$XDG_RUNTIME_DIR"
export AUTHD_SOCKET=$XDG_RUNTIME_DIR/authd/socket AUTHD_STATE_DIR=$XDG_STATE_HOME/authd
export AUTHD_CONFIG=$XDG_CONFIG_HOME/authd/config.toml
export GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 NO_COLOR=1
mkdir -p "$(dirname "$AUTHD_CONFIG")" "$(dirname "$AUTHD_SOCKET")"
chmod 700 "$(dirname "$AUTHD_SOCKET")"

start_devserver() {  # start_devserver NAME ARGS... -> sets URL_<NAME>
  local name=$1; shift
  "$BIN/authd-devserver" --port 0 --quiet "$@" > "$W/dev-$name.url" 2> "$W/dev-$name.log" &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$W/dev-$name.url" ] && break; sleep 0.05; done
  printf -v "URL_$name" '%s' "$(head -1 "$W/dev-$name.url")"
}
start_devserver good --interval 0 --auto-approve=0
start_devserver stall --fault stall@all
HOSTPORT=${URL_good#http://}

cat > "$AUTHD_CONFIG" <<EOF
[audience.demo]
issuer    = "$URL_good"
client_id = "authctl-test"
scopes    = ["openid", "offline_access"]
git_urls  = ["$URL_good/git/"]

[audience.stuck]
device_authorization_endpoint = "$URL_stall/device_authorization"
token_endpoint = "$URL_stall/token"
client_id = "authctl-test"
EOF

wait_socket() {  # wait_socket PATH
  for _ in $(seq 200); do
    [ -S "$1" ] && "$W/floor-static" "$1" '{"op":"version"}' >/dev/null 2>&1 && return 0
    sleep 0.02
  done
  echo "bench: nothing serves $1" >&2; exit 1
}

mkdir "$W/build"
gcc -O2 -Wall -o "$W/build/floor-dynamic" bench/floor.c
gcc -O2 -Wall -static -o "$W/build/floor-static" bench/floor.c
gcc -O2 -Wall -o "$W/build/floor-server" bench/floor-server.c
gcc -O2 -Wall -static -o "$W/build/floor-helper" bench/floor-helper.c
# The Swift floors: the same two programs in Swift, built as the clients are (a static executable).
# The linker's notes about dlopen in a static program go to the log, not the terminal.
for floor in floor floor-helper; do
  swiftc -O -static-executable -o "$W/build/$floor-swift" "bench/$floor.swift" > "$W/swiftc-$floor.log" 2>&1 \
    || { echo "bench: swiftc bench/$floor.swift failed" >&2; cat "$W/swiftc-$floor.log" >&2; exit 1; }
done
# Installed, as the programs above are.
for p in floor-dynamic floor-static floor-server floor-helper floor-swift floor-helper-swift; do
  install -m 0755 "$W/build/$p" "$W/$p"
done

"$BIN/authd" 2> "$W/authd.log" &
AUTHD_PID=$!
PIDS+=($AUTHD_PID)
wait_socket "$AUTHD_SOCKET"
sleep 0.3
RSS_START_KB=$(awk '/^VmRSS/ {print $2}' /proc/$AUTHD_PID/status)
"$W/floor-static" "$AUTHD_SOCKET" '{"op":"get","audience":"demo","interactive":true}' > /dev/null \
  || { echo "bench: login to the devserver failed" >&2; cat "$W/authd.log" >&2; exit 1; }
"$BIN/authctl" get demo > /dev/null || { echo "bench: authctl get failed" >&2; exit 1; }
# The server floor answers every request with authd's own answer to a cached get (same length;
# the file stays in this private directory).
"$W/floor-static" "$AUTHD_SOCKET" '{"op":"get","audience":"demo"}' > "$W/floor-answer" \
  || { echo "bench: cached get failed" >&2; exit 1; }
"$W/floor-server" "$W/floor.sock" "$W/floor-answer" &
PIDS+=($!)
wait_socket "$W/floor.sock"

# oidc-agent, with one account made non-interactively against the same devserver.
mkdir -m 700 "$W/oidc"
eval "$(oidc-agent -a "$W/oidc/agent.sock" 2>/dev/null)" > /dev/null
export OIDC_SOCK OIDCD_PID
export OIDC_ENCRYPTION_PW=bench-only-password
start_devserver oidc --interval 0 --auto-approve=0
timeout 60 oidc-gen --flow=device --issuer "$URL_oidc" --client-id bench --client-secret bench-secret \
  --scope "openid offline_access" --pw-env --no-url-call --confirm-default --prompt=none benchacct \
  < /dev/null > "$W/oidc-gen.log" 2>&1 || { echo "bench: oidc-gen failed" >&2; cat "$W/oidc-gen.log" >&2; exit 1; }
oidc-token benchacct > /dev/null || { echo "bench: oidc-token failed" >&2; exit 1; }
OIDC_REQ='{"request":"access_token","account":"benchacct","min_valid_period":60,"application_hint":"bench"}'

# git: the helper, and git's own credential-cache pre-seeded with a token of the same length.
printf 'protocol=http\nhost=%s\npath=git/repo.git\n\n' "$HOSTPORT" > "$W/git-fill.txt"
# Both helper forms: the absolute path (README, `authctl setup git`: git execs the helper directly)
# and the short name `authctl` (git runs `git credential-authctl`, a second git process, found on PATH).
GIT_AUTHD=(git -c credential.helper= -c "credential.helper=$BIN/git-credential-authctl" -c credential.useHttpPath=true credential fill)
GIT_AUTHD_SHORT=(env "PATH=$BIN:$PATH" git -c credential.helper= -c credential.helper=authctl -c credential.useHttpPath=true credential fill)
mkdir -m 700 "$W/gitcache"
GIT_CACHE=(git -c credential.helper= -c "credential.helper=cache --socket $W/gitcache/sock --timeout 86400" -c credential.useHttpPath=true credential fill)
TOKEN=$("$BIN/authctl" get demo)
printf 'protocol=http\nhost=%s\npath=git/repo.git\nusername=oauth2\npassword=%s\n\n' "$HOSTPORT" "$TOKEN" \
  | git -c credential.helper= -c "credential.helper=cache --socket $W/gitcache/sock --timeout 86400" \
      -c credential.useHttpPath=true credential approve
"${GIT_CACHE[@]}" < "$W/git-fill.txt" | grep -q "password=$TOKEN" || { echo "bench: git credential-cache not seeded" >&2; exit 1; }
"${GIT_AUTHD[@]}" < "$W/git-fill.txt" | grep -q "^password=" || { echo "bench: git-credential-authctl answered nothing" >&2; exit 1; }
"${GIT_AUTHD_SHORT[@]}" < "$W/git-fill.txt" | grep -q "^password=" || { echo "bench: credential.helper=authctl answered nothing" >&2; exit 1; }
# The helper floor: a static C helper printing fixed credentials with a password as long as the token.
GIT_FLOOR=(git -c credential.helper= -c "credential.helper=$W/floor-helper ${#TOKEN}" -c credential.useHttpPath=true credential fill)
"${GIT_FLOOR[@]}" < "$W/git-fill.txt" | grep -q "^password=x" || { echo "bench: the floor helper answered nothing" >&2; exit 1; }
GIT_SWIFT_FLOOR=(git -c credential.helper= -c "credential.helper=$W/floor-helper-swift ${#TOKEN}" -c credential.useHttpPath=true credential fill)
"${GIT_SWIFT_FLOOR[@]}" < "$W/git-fill.txt" | grep -q "^password=x" || { echo "bench: the Swift floor helper answered nothing" >&2; exit 1; }
unset TOKEN

# ---------------------------------------------------------------- 1. whole-process clients
log "1/5 whole-process clients (hyperfine, $RUNS runs each)"
hyperfine -N --warmup 30 --runs "$RUNS" --export-json "$RAW/clients.json" --style none \
  -n "authctl get" "$BIN/authctl get demo" \
  -n "oidc-token" "oidc-token benchacct" \
  -n "Swift floor, static" "$W/floor-swift $AUTHD_SOCKET" \
  -n "C floor, static" "$W/floor-static $AUTHD_SOCKET" \
  -n "C floor, dynamic" "$W/floor-dynamic $AUTHD_SOCKET" > "$RAW/clients.txt"
log "1/5 git credential fill ($RUNS runs each, interleaved in blocks)"
: > "$RAW/git.jsonl"
for round in 1 2; do
  "$LOADGEN" exec --runs $((RUNS / 2)) --warmup 10 --stdin "$W/git-fill.txt" -- "${GIT_AUTHD[@]}" \
    | sed "s/^{/{\"name\":\"git via git-credential-authctl\",\"round\":$round,/" >> "$RAW/git.jsonl"
  "$LOADGEN" exec --runs $((RUNS / 2)) --warmup 10 --stdin "$W/git-fill.txt" -- "${GIT_AUTHD_SHORT[@]}" \
    | sed "s/^{/{\"name\":\"git via credential.helper=authctl\",\"round\":$round,/" >> "$RAW/git.jsonl"
  "$LOADGEN" exec --runs $((RUNS / 2)) --warmup 10 --stdin "$W/git-fill.txt" -- "${GIT_CACHE[@]}" \
    | sed "s/^{/{\"name\":\"git via credential-cache\",\"round\":$round,/" >> "$RAW/git.jsonl"
  "$LOADGEN" exec --runs $((RUNS / 2)) --warmup 10 --stdin "$W/git-fill.txt" -- "${GIT_FLOOR[@]}" \
    | sed "s/^{/{\"name\":\"git via the C floor helper\",\"round\":$round,/" >> "$RAW/git.jsonl"
  "$LOADGEN" exec --runs $((RUNS / 2)) --warmup 10 --stdin "$W/git-fill.txt" -- "${GIT_SWIFT_FLOOR[@]}" \
    | sed "s/^{/{\"name\":\"git via the Swift floor helper\",\"round\":$round,/" >> "$RAW/git.jsonl"
done
"$LOADGEN" exec --runs $((RUNS / 2)) --warmup 10 --stdin /dev/null -- "$BIN/authctl" get demo \
  | sed 's/^{/{"name":"authctl get (spawn timer)",/' >> "$RAW/git.jsonl"
"$LOADGEN" exec --runs $((RUNS / 2)) --warmup 10 --stdin /dev/null -- oidc-token benchacct \
  | sed 's/^{/{"name":"oidc-token (spawn timer)",/' >> "$RAW/git.jsonl"

# ---------------------------------------------------------------- 2. daemon under concurrency
log "2/5 daemon under concurrency (${LOAD_SECONDS} s per step)"
: > "$RAW/load.jsonl"
load() {  # load TARGET REQUESTNAME CLIENTS MODE ARGS...
  local target=$1 request=$2 clients=$3 mode=$4; shift 4
  "$LOADGEN" load --clients "$clients" --seconds "$LOAD_SECONDS" --mode "$mode" "$@" \
    | sed "s/^{/{\"target\":\"$target\",\"request\":\"$request\",/" >> "${OUT:-$RAW/load.jsonl}"
}
for clients in 1 8 64 256; do
  for mode in new persistent; do
    load authd get "$clients" "$mode" --socket "$AUTHD_SOCKET" --request '{"op":"get","audience":"demo"}' --expect '"ok":true'
    load authd status "$clients" "$mode" --socket "$AUTHD_SOCKET" --request '{"op":"status"}' --expect '"ok":true'
  done
  # The floor server answers one request per connection, as oidc-agent does.
  load floor get "$clients" new --socket "$W/floor.sock" --request '{"op":"get","audience":"demo"}' --expect '"ok":true'
  # oidc-agent answers one request per connection, then closes: new connections only.
  load oidc-agent get "$clients" new --socket "$OIDC_SOCK" --framing message --request "$OIDC_REQ" --expect access_token
  load oidc-agent status "$clients" new --socket "$OIDC_SOCK" --framing message --request '{"request":"check"}' --expect success
done

# ---------------------------------------------------------------- 4. footprint
log "3/5 footprint: RSS and idle wake-ups (${IDLE_SECONDS} s window)"
ctxt() {  # "TID SWITCHES NAME" for every thread of PID (voluntary + involuntary)
  for t in /proc/"$1"/task/*; do
    awk -v tid="${t##*/}" '/^Name:/ {name = $2} /ctxt_switches/ {s += $2} END {print tid, s + 0, name}' "$t/status" 2>/dev/null || true
  done
}
ctxt_delta() {  # ctxt_delta BEFORE AFTER: switches in between, threads that exited meanwhile not counted
  awk 'NR == FNR {before[$1] = $2; next} {s += $2 - ($1 in before ? before[$1] : 0)} END {print s + 0}' "$1" "$2"
}
rss() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status; }
RSS_SERVING_KB=$(rss $AUTHD_PID)
OIDC_RSS_KB=$(rss "$OIDCD_PID")
# RSS split: anonymous (heap, stacks: the process's own memory) and file-backed (program and
# library pages, shared with every other process that maps them, and faulted in 64 KiB at a time).
rss_anon() { awk '/^RssAnon/ {print $2}' /proc/"$1"/status; }
rss_file() { awk '/^RssFile/ {print $2}' /proc/"$1"/status; }
ANON_KB=$(rss_anon $AUTHD_PID); FILE_KB=$(rss_file $AUTHD_PID)
OIDC_ANON_KB=$(rss_anon "$OIDCD_PID"); OIDC_FILE_KB=$(rss_file "$OIDCD_PID")
sleep 2  # let the load's worker threads settle
ctxt $AUTHD_PID > "$W/a0"; ctxt "$OIDCD_PID" > "$W/o0"
AT0=$(ls /proc/$AUTHD_PID/task | wc -l)
sleep "$IDLE_SECONDS"
ctxt $AUTHD_PID > "$W/a1"; ctxt "$OIDCD_PID" > "$W/o1"
# Which threads switched while idle: before and after, one line per thread.
cp "$W/a0" "$RAW/authd-idle-threads-before.txt"; cp "$W/a1" "$RAW/authd-idle-threads-after.txt"
# What the idle RSS is made of, mapping by mapping (report.py sums it by file).
cat /proc/$AUTHD_PID/smaps > "$RAW/authd-smaps.txt" 2>/dev/null || true

# ---------------------------------------------------------------- 3. head-of-line (after the idle window:
# the hung device flow keeps the daemon busy until the engine's 30 s timeout ends it)
log "4/5 head-of-line: cached gets while another audience's provider hangs (${HOL_SECONDS} s)"
: > "$RAW/hol.jsonl"
OUT=$RAW/hol.jsonl LOAD_SECONDS=$HOL_SECONDS load authd "get (baseline)" 1 new \
  --socket "$AUTHD_SOCKET" --request '{"op":"get","audience":"demo"}' --expect '"ok":true'
( "$W/floor-static" "$AUTHD_SOCKET" '{"op":"get","audience":"stuck","interactive":true}' > /dev/null 2>&1 || true ) &
HUNG=$!
sleep 0.3
OUT=$RAW/hol.jsonl LOAD_SECONDS=$HOL_SECONDS load authd "get (other provider hanging)" 1 new \
  --socket "$AUTHD_SOCKET" --request '{"op":"get","audience":"demo"}' --expect '"ok":true'
kill "$HUNG" 2>/dev/null || true


# A daemon with $AUDIENCES audiences, all logged in.
MANY=$W/many
mkdir -p "$MANY/run" "$MANY/state" "$MANY/config"
chmod 700 "$MANY/run" "$MANY/state"
for i in $(seq 0 $((AUDIENCES - 1))); do
  printf '[audience.a%d]\ndevice_authorization_endpoint = "%s/device_authorization"\ntoken_endpoint = "%s/token"\nclient_id = "c%d"\nscopes = ["openid", "offline_access"]\n\n' \
    "$i" "$URL_good" "$URL_good" "$i"
done > "$MANY/config/config.toml"
AUTHD_CONFIG=$MANY/config/config.toml AUTHD_SOCKET=$MANY/run/socket AUTHD_STATE_DIR=$MANY/state \
  "$BIN/authd" 2> "$W/authd-many.log" &
MANY_PID=$!
PIDS+=($MANY_PID)
T0=$(date +%s.%N)
wait_socket "$MANY/run/socket"
MANY_START_S=$(elapsed "$T0")
sleep 0.3
MANY_RSS_START_KB=$(rss $MANY_PID)
T0=$(date +%s.%N)
seq 0 $((AUDIENCES - 1)) | xargs -P 32 -I{} "$W/floor-static" "$MANY/run/socket" \
  '{"op":"get","audience":"a{}","interactive":true}' > /dev/null
MANY_LOGIN_S=$(elapsed "$T0")
for i in $(seq 0 $((AUDIENCES - 1))); do echo "{\"op\":\"get\",\"audience\":\"a$i\"}"; done > "$W/many-gets.txt"
socat -t 30 - UNIX-CONNECT:"$MANY/run/socket" < "$W/many-gets.txt" | grep -c '"ok":true' > "$W/many-served" || true
sleep 0.5
MANY_RSS_SERVED_KB=$(rss $MANY_PID)
MANY_STORE_BYTES=$(stat -c %s "$MANY/state/tokens.store" 2>/dev/null || echo 0)
# Restart on that store: start-up time with $AUDIENCES stored logins.
kill -TERM $MANY_PID; wait $MANY_PID 2>/dev/null || true
AUTHD_CONFIG=$MANY/config/config.toml AUTHD_SOCKET=$MANY/run/socket AUTHD_STATE_DIR=$MANY/state \
  "$BIN/authd" 2>> "$W/authd-many.log" &
MANY_PID=$!
PIDS+=($MANY_PID)
T0=$(date +%s.%N)
wait_socket "$MANY/run/socket"
MANY_RESTART_S=$(elapsed "$T0")
# The same logins restored from the store and served once: memory without the garbage that 1,000
# concurrent device flows leave in malloc's free lists.
socat -t 30 - UNIX-CONNECT:"$MANY/run/socket" < "$W/many-gets.txt" | grep -c '"ok":true' > "$W/many-restored-served" || true
sleep 0.5
MANY_RSS_RESTORED_KB=$(rss $MANY_PID)
kill -TERM $MANY_PID; wait $MANY_PID 2>/dev/null || true

cat > "$RAW/footprint.json" <<EOF
{"authd_rss_start_kb": $RSS_START_KB, "authd_rss_serving_kb": $RSS_SERVING_KB, "oidc_agent_rss_kb": $OIDC_RSS_KB,
 "authd_rss_anon_kb": $ANON_KB, "authd_rss_file_kb": $FILE_KB, "oidc_agent_rss_anon_kb": $OIDC_ANON_KB, "oidc_agent_rss_file_kb": $OIDC_FILE_KB,
 "audiences": $AUDIENCES, "many_rss_start_kb": $MANY_RSS_START_KB, "many_rss_served_kb": $MANY_RSS_SERVED_KB,
 "many_served": $(cat "$W/many-served"), "many_start_s": $MANY_START_S, "many_login_s": $MANY_LOGIN_S,
 "many_restart_s": $MANY_RESTART_S, "many_store_bytes": $MANY_STORE_BYTES,
 "many_rss_restored_kb": $MANY_RSS_RESTORED_KB, "many_restored_served": $(cat "$W/many-restored-served"),
 "idle_seconds": $IDLE_SECONDS, "authd_threads": $AT0, "authd_idle_ctxt": $(ctxt_delta "$W/a0" "$W/a1"), "oidc_agent_idle_ctxt": $(ctxt_delta "$W/o0" "$W/o1")}
EOF

# ---------------------------------------------------------------- 5. store
log "5/5 store: save and load of 10 and 1,000 records"
: > "$RAW/store.jsonl"
for n in 10 1000; do
  mkdir -m 700 "$W/store-$n"
  "$LOADGEN" store --dir "$W/store-$n" --records "$n" --iterations $([ "$QUICK" = 1 ] && echo 5 || echo 20) >> "$RAW/store.jsonl"
done

# ---------------------------------------------------------------- report
python3 bench/report.py "$RAW" "$RESULTS/$STAMP"
log "wrote $RESULTS/$STAMP.md and $RESULTS/$STAMP.json"
cat "$RESULTS/$STAMP.md"
