#!/usr/bin/env bash
# `make demo`: the whole job of authd against a local OAuth provider (authd-devserver), in a
# temporary directory that is removed afterwards. Nothing of yours is read or touched: config,
# socket and state all live under that directory.
#
#   AUTHD_BIN_DIR=$(swift build --show-bin-path) bash scripts/demo.sh
#
# Needs bash, curl, git, python3 and the four programs in $AUTHD_BIN_DIR. Exits non-zero when a
# step fails. NO_COLOR=1 turns colour off (it is off anyway when stdout is not a terminal).
set -uo pipefail

# --- looks -------------------------------------------------------------------------------------
if [[ -t 1 && -z ${NO_COLOR:-} && ${TERM:-dumb} != dumb ]]; then
  BOLD=$'\e[1m' DIM=$'\e[2m' GREEN=$'\e[32m' RED=$'\e[31m' CYAN=$'\e[36m' RESET=$'\e[0m'
else
  BOLD='' DIM='' GREEN='' RED='' CYAN='' RESET=''
fi
STEP=0
step() { STEP=$((STEP + 1)); printf '\n%s%s%d. %s%s\n' "$BOLD" "$CYAN" "$STEP" "$1" "$RESET"; }
say() { printf '   %s\n' "$*"; }
show() { printf '   %s$ %s%s\n' "$DIM" "$*" "$RESET"; }          # a command, as you would type it
ok() { printf '   %s✓ %s%s\n' "$GREEN" "$*" "$RESET"; }
indent() { sed 's/^/     /'; }
fail() {
  printf '\n%s✗ step %d failed: %s%s\n' "$RED$BOLD" "$STEP" "$*" "$RESET" >&2
  if [[ -s ${WORK:-/nonexistent}/authd.log ]]; then
    printf '%s--- last lines of the authd log ---%s\n' "$DIM" "$RESET" >&2
    tail -n 15 "$WORK/authd.log" >&2
  fi
  exit 1
}

# --- what we need ------------------------------------------------------------------------------
BIN=${AUTHD_BIN_DIR:-}
if [[ -z $BIN ]]; then
  BIN=$(cd "$(dirname "$0")/.." && swift build --show-bin-path 2>/dev/null) || true
fi
for program in authd authctl git-credential-authctl authd-devserver; do
  [[ -x $BIN/$program ]] || { echo "demo: $BIN/$program not found; run 'make demo' (or set AUTHD_BIN_DIR)" >&2; exit 2; }
done
for tool in curl git python3; do
  command -v "$tool" >/dev/null || { echo "demo: needs $tool (make deps installs it)" >&2; exit 2; }
done

# --- a private world ---------------------------------------------------------------------------
# A short path: a Unix socket path must fit in 107 bytes.
WORK=$(mktemp -d /tmp/authd-demo.XXXXXX) || exit 2
chmod 700 "$WORK"
PIDS=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 50); do                         # up to 5 s, then no more asking
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    (( alive )) || break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
on_interrupt() { printf '\n%sinterrupted; cleaning up%s\n' "$DIM" "$RESET" >&2; exit 130; }
trap on_interrupt INT TERM

mkdir -p -m 700 "$WORK/config/authd" "$WORK/run" "$WORK/state" "$WORK/repos"
export XDG_CONFIG_HOME=$WORK/config XDG_RUNTIME_DIR=$WORK/run XDG_STATE_HOME=$WORK/state
export AUTHD_CONFIG=$WORK/config/authd/config.toml AUTHD_SOCKET=$WORK/run/authd/socket AUTHD_STATE_DIR=$WORK/state/authd
# git finds the helper `authctl` as git-credential-authctl on PATH; your git config is not read.
export PATH="$BIN:$PATH"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
unset GIT_ASKPASS SSH_ASKPASS
# Everything is on loopback; no proxy may see it.
export NO_PROXY='*' no_proxy='*'
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

# A token shown the way it should be: a prefix and its fingerprint (first 8 bytes of SHA-256, as
# authd's audit records and `erase` name it), never the whole thing.
fingerprint() { printf '%s' "$1" | sha256sum | cut -c1-16; }
brief() { printf '%s… (%d characters, fingerprint %s)' "${1:0:8}" "${#1}" "$(fingerprint "$1")"; }
# Runs a command, shows its output indented, keeps stdout in $OUT and the status in $RC.
run() { OUT=$("$@" 2>"$WORK/stderr"); RC=$?; }

printf '%sauthd demo%s: a device-flow login, a cached token, a refresh, git, a logout.\n' "$BOLD" "$RESET"
printf '%sEverything runs in %s and is removed at the end.%s\n' "$DIM" "$WORK" "$RESET"

# 1 -------------------------------------------------------------------------------------------
step "Start a local OAuth provider"
say "authd-devserver plays GitHub, Entra or Keycloak here: device authorization, tokens that"
say "live 20 s, refresh, revocation, and git over HTTP that wants a token. It approves every"
say "login by itself after 5 s (or you open its page and press Approve)."
git init -q --bare "$WORK/repos/demo.git" || fail "git init"
tree=$(git --git-dir="$WORK/repos/demo.git" mktree </dev/null) &&
  commit=$(GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.com GIT_COMMITTER_NAME=demo \
    GIT_COMMITTER_EMAIL=demo@example.com git --git-dir="$WORK/repos/demo.git" commit-tree "$tree" -m "hello from the demo") &&
  git --git-dir="$WORK/repos/demo.git" update-ref refs/heads/main "$commit" || fail "cannot make the demo repository"
show "authd-devserver --port 0 --access-token-ttl 20 --auto-approve-after 5 --interval 2 --git-root $WORK/repos"
"$BIN/authd-devserver" --port 0 --access-token-ttl 20 --auto-approve-after 5 --interval 2 --git-root "$WORK/repos" \
  >"$WORK/devserver.out" 2>"$WORK/devserver.log" &
PIDS+=($!)
for _ in $(seq 100); do [[ -s $WORK/devserver.out ]] && break; sleep 0.05; done
BASE=$(head -n1 "$WORK/devserver.out")
[[ $BASE =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "authd-devserver did not print its URL: $(cat "$WORK/devserver.log")"
HOSTPORT=${BASE#http://}
ok "provider at $BASE"

# 2 -------------------------------------------------------------------------------------------
step "Configure one audience and start authd"
say "An audience is one OAuth client at one provider. For a real one you would write"
say "provider = \"github\" (or gitlab, entra, google, keycloak, okta, auth0); see README.md."
cat >"$AUTHD_CONFIG" <<EOF
[daemon]
autostart = false        # the demo starts authd itself, just below

[audience.demo]
issuer    = "$BASE"     # endpoints found by discovery
client_id = "authd-demo"
scopes    = ["openid", "offline_access"]
git_urls  = ["$BASE/"]  # answer git for this server
EOF
indent <"$AUTHD_CONFIG"
show "authd &"
"$BIN/authd" 2>>"$WORK/authd.log" &
AUTHD_PID=$!
PIDS+=("$AUTHD_PID")
for _ in $(seq 200); do
  "$BIN/authctl" status >/dev/null 2>&1 && break
  kill -0 "$AUTHD_PID" 2>/dev/null || fail "authd exited at start"
  sleep 0.05
done
"$BIN/authctl" config check >/dev/null 2>"$WORK/stderr" || fail "config check: $(cat "$WORK/stderr")"
run "$BIN/authctl" status
[[ $RC == 0 ]] || fail "authctl status (exit $RC): $(cat "$WORK/stderr")"
ok "authd is serving $AUTHD_SOCKET (mode 0600, only your uid is answered)"
show "authctl status"
printf '%s\n' "$OUT" | indent

# 3 -------------------------------------------------------------------------------------------
step "Ask for a token: the first time, a person approves"
INTERACTIVE=()
if ! (: </dev/tty) 2>/dev/null; then
  # No terminal (CI, a pipe): --interactive says a person watches stderr anyway.
  INTERACTIVE=(--interactive)
fi
say "authctl prints only the token on stdout. The prompt (link, code, QR code) goes to your"
say "terminal; a script that has no terminal gets exit code 3 and \"run: authctl login demo\"."
show "TOKEN=\$(authctl get demo${INTERACTIVE[*]:+ ${INTERACTIVE[*]}})"
START=$(date +%s)
TOKEN1=$("$BIN/authctl" get demo "${INTERACTIVE[@]}")
RC=$?
# authctl handles Ctrl-C itself (exit 130), so bash's INT trap does not fire: pass it on.
[[ $RC == 130 ]] && on_interrupt
[[ $RC == 0 && -n $TOKEN1 ]] || fail "authctl get demo exited $RC"
ok "approved after $(( $(date +%s) - START )) s; token $(brief "$TOKEN1")"

# 4 -------------------------------------------------------------------------------------------
step "Ask again: served from authd's memory, no provider involved"
say "--min-valid says how long the token must still be good for (default 60 s; this demo's"
say "tokens only live 20 s)."
show "authctl get demo --min-valid 5s"
before=$(grep -c '"endpoint":"token"' "$WORK/devserver.log")
START_NS=$(date +%s%N)
TOKEN2=$("$BIN/authctl" get demo --min-valid 5s) || fail "authctl get demo --min-valid 5s"
MS=$(( ($(date +%s%N) - START_NS) / 1000000 ))
after=$(grep -c '"endpoint":"token"' "$WORK/devserver.log")
[[ $TOKEN2 == "$TOKEN1" ]] || fail "expected the cached token, got $(brief "$TOKEN2")"
[[ $before == "$after" ]] || fail "the provider was asked again"
ok "same token, fingerprint $(fingerprint "$TOKEN2"), in $MS ms, no request to the provider"
show "authctl status"
"$BIN/authctl" status 2>&1 | indent

# 5 -------------------------------------------------------------------------------------------
step "Wait for the refresh"
say "authd refreshes a token before it expires (here 10 s before: half its 20 s life) with the"
say "refresh token, which never leaves the daemon. Nobody is asked again."
show "authctl get demo --min-valid 1s   # every second, until the fingerprint changes"
TOKEN3=$TOKEN1
for _ in $(seq 40); do
  TOKEN3=$("$BIN/authctl" get demo --min-valid 1s 2>/dev/null) || true
  [[ -n $TOKEN3 && $TOKEN3 != "$TOKEN1" ]] && break
  printf '.'; sleep 1
done
printf '\n'
[[ -n $TOKEN3 && $TOKEN3 != "$TOKEN1" ]] || fail "no refreshed token after 40 s"
grep -q '"grant_type":"refresh_token".*"result":"issued"' "$WORK/devserver.log" || fail "the provider saw no refresh"
ok "new token $(brief "$TOKEN3"), from a refresh_token grant"
"$BIN/authctl" status 2>&1 | indent

# 6 -------------------------------------------------------------------------------------------
step "git asks the credential helper"
say "With  git config --global credential.$BASE.helper authctl  git runs"
say "git-credential-authctl, which answers from authd. (Here: -c, and your config is ignored.)"
show "printf 'protocol=http\\nhost=$HOSTPORT\\npath=git/demo.git\\n\\n' | git -c credential.helper= -c credential.helper=authctl credential fill"
FILL=$(printf 'protocol=http\nhost=%s\npath=git/demo.git\n\n' "$HOSTPORT" |
  git -c credential.helper= -c credential.helper=authctl credential fill 2>"$WORK/stderr") ||
  fail "git credential fill: $(cat "$WORK/stderr")"
printf '%s\n' "$FILL" | sed -E 's/^(password=.{8}).+/\1… (shortened here)/' | indent
PASSWORD=$(printf '%s\n' "$FILL" | sed -n 's/^password=//p')
[[ -n $PASSWORD ]] || fail "git got no password"
ok "git got the token with fingerprint $(fingerprint "$PASSWORD")"
say "(The helper asks for a token good for at least 60 s; this demo's 20-s tokens are"
say "refreshed for it each time. Real tokens live an hour or more.)"
show "git -c credential.helper= -c credential.helper=authctl ls-remote $BASE/git/demo.git"
REFS=$(git -c credential.helper= -c credential.helper=authctl ls-remote "$BASE/git/demo.git" 2>"$WORK/stderr") ||
  fail "git ls-remote: $(cat "$WORK/stderr")"
printf '%s\n' "$REFS" | indent
[[ $REFS == *refs/heads/main* ]] || fail "ls-remote did not list refs/heads/main"
ok "the server accepted the token; nothing was stored in ~/.git-credentials or anywhere else"

# 7 -------------------------------------------------------------------------------------------
step "Log out: revoke at the provider, erase locally"
LAST=$("$BIN/authctl" get demo --min-valid 1s 2>/dev/null) || LAST=$TOKEN3
show "authctl logout demo"
"$BIN/authctl" logout demo 2>&1 | indent
[[ ${PIPESTATUS[0]} == 0 ]] || fail "authctl logout demo"
show "curl -s -d token=… $BASE/introspect   # what the provider now thinks of the token"
ACTIVE=$(curl -s -d "token=$LAST" "$BASE/introspect" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("active"))') ||
  fail "introspection failed"
printf '     {"active": %s}\n' "$(tr '[:upper:]' '[:lower:]' <<<"$ACTIVE")"
[[ $ACTIVE == False ]] || fail "the provider still accepts the token"
ok "revoked at the provider"
show "authctl status"
"$BIN/authctl" status 2>&1 | indent
# setsid: no controlling terminal, like a cron job or a CI step.
setsid -w "$BIN/authctl" get demo </dev/null >/dev/null 2>"$WORK/stderr"
RC=$?
[[ $RC == 3 ]] || fail "a script without a terminal should get exit code 3, got $RC"
say "A script (no terminal) asking now gets exit code 3 and: $(head -n1 "$WORK/stderr")"

# 8 -------------------------------------------------------------------------------------------
step "The audit trail"
say "Each of those events is one audit record: in the journal under systemd"
say "(journalctl --user -u authd), here on authd's stderr. Never a token, only its fingerprint."
python3 - "$WORK/authd.log" <<'PY' | indent
import json, sys
rows = []
for line in open(sys.argv[1], errors="replace"):
    try:
        record = json.loads(line)
    except ValueError:
        continue
    if not isinstance(record, dict) or "audit" not in record:
        continue
    exe = (record.get("client_exe") or "").rsplit("/", 1)[-1]
    who = exe or ("authd" if not record.get("client_pid") else "pid %s" % record["client_pid"])
    row = (record["audit"], who, record.get("token_fingerprint", ""))
    if rows and rows[-1][0] == row:
        rows[-1][1] += 1          # the same event from the same program, in a row: count it
    else:
        rows.append([row, 1])
print("%-22s %-24s %s" % ("EVENT", "CLIENT", "TOKEN FINGERPRINT"))
for (event, who, fingerprint), count in rows:
    print("%-22s %-24s %s" % (event + (" x%d" % count if count > 1 else ""), who, fingerprint))
PY
grep -q '"audit":"token_served"' "$WORK/authd.log" || fail "no token_served audit record"
if grep -qF -- "$TOKEN1" "$WORK/authd.log" "$WORK/devserver.log"; then fail "a token appeared in a log"; fi
ok "no token in any log"

printf '\n%s%sDone.%s Next: README.md (install, real providers), docs/operations.md, docs/security.md.\n' \
  "$BOLD" "$GREEN" "$RESET"
