#!/usr/bin/env bash
# Smoke test of authd-devserver over loopback with curl (and git when present); exits non-zero on the first failure.
# Binary: $AUTHD_DEVSERVER, else $AUTHD_BIN_DIR/authd-devserver, else .build-dev or .build debug builds.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${AUTHD_DEVSERVER:-}
if [[ -z $BIN && -n ${AUTHD_BIN_DIR:-} ]]; then BIN=$AUTHD_BIN_DIR/authd-devserver; fi
if [[ -z $BIN ]]; then
  for c in "$ROOT/.build-dev/debug/authd-devserver" "$ROOT/.build/debug/authd-devserver"; do
    [[ -x $c ]] && { BIN=$c; break; }
  done
fi
[[ -n $BIN && -x $BIN ]] || { echo "devserver-smoke: authd-devserver binary not found (set AUTHD_DEVSERVER)" >&2; exit 2; }
command -v curl >/dev/null && command -v python3 >/dev/null || { echo "devserver-smoke: needs curl and python3" >&2; exit 2; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
# Loopback only: no proxy may see these requests.
export no_proxy='*' NO_PROXY='*'
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

DEVICE_GRANT=urn:ietf:params:oauth:grant-type:device_code
fail() { echo "FAIL: $*" >&2; [[ -f $WORK/body ]] && { echo "--- last body:" >&2; head -c 600 "$WORK/body" >&2; echo >&2; }; exit 1; }
ok() { echo "ok - $*"; }

# start NAME ARGS...: runs a server, sets URL and LOG (its stderr).
start() {
  local name=$1; shift
  "$BIN" --port 0 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  LAST_PID=$!
  # Up to 60 s: a loaded CI machine can take seconds to start a debug binary; a server that died says so at once.
  for _ in $(seq 1200); do
    [[ -s $WORK/$name.out ]] && break
    kill -0 "$LAST_PID" 2>/dev/null || break
    sleep 0.05
  done
  URL=$(head -n1 "$WORK/$name.out")
  [[ $URL =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "$name: first stdout line is not the base URL: '$URL'"
  LOG=$WORK/$name.err
}

# req ARGS...: curl into $WORK/body and $WORK/headers; prints the HTTP status.
req() { curl -sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$@"; }
field() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else (json.dumps(v) if isinstance(v,(bool,list,dict)) else v))' "$WORK/body" "$1"; }
expect() { # expect STATUS ERROR-or-"" DESCRIPTION, after req
  local status=$1 error=$2 what=$3
  [[ $GOT == "$status" ]] || fail "$what: HTTP $GOT, expected $status"
  if [[ -n $error ]]; then [[ $(field error) == "$error" ]] || fail "$what: error '$(field error)', expected '$error'"; fi
}
poll() { GOT=$(req -d client_id="${2:-demo}" -d grant_type=$DEVICE_GRANT -d device_code="$1" "$URL/token"); }
authorize() { # authorize CLIENT SCOPE [curl args...]: sets DC, UC
  local client=$1 scope=$2; shift 2
  GOT=$(req -d client_id="$client" --data-urlencode "scope=$scope" "$@" "$URL/device_authorization")
  expect 200 "" "device authorization"
  DC=$(field device_code); UC=$(field user_code)
}

# --- A: device flow, slow_down, refresh rotation, revocation, introspection ----------------------
start a --interval 1 --auto-approve=2
GOT=$(req "$URL/.well-known/oauth-authorization-server"); expect 200 "" discovery
[[ $(field issuer) == "$URL" && $(field token_endpoint) == "$URL/token" && $(field revocation_endpoint) == "$URL/revoke" ]] \
  || fail "discovery fields"
GOT=$(req "$URL/.well-known/openid-configuration"); expect 200 "" "openid discovery"
[[ $(field device_authorization_endpoint) == "$URL/device_authorization" ]] || fail "openid discovery fields"
ok "discovery"

authorize demo "openid offline_access" -d resource=https://api.example.com
[[ $UC =~ ^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$ ]] || fail "user_code format: $UC"
(( ${#DC} >= 43 )) || fail "device_code too short"
[[ $(field verification_uri) == "$URL/device" && $(field verification_uri_complete) == "$URL/device?user_code=$UC" ]] \
  || fail "verification URIs"
[[ $(field interval) == 1 && $(field expires_in) == 600 ]] || fail "interval/expires_in"
ok "device authorization"

poll "$DC"; expect 400 authorization_pending "poll 1 (auto-approve=2)"
grep -qi '^cache-control: no-store' "$WORK/headers" || fail "error without Cache-Control: no-store"
sleep 1.1; poll "$DC"; expect 400 authorization_pending "poll 2 (auto-approve=2)"
sleep 1.1; poll "$DC"; expect 200 "" "poll 3 (auto-approve=2)"
AT=$(field access_token); RT=$(field refresh_token)
[[ -n $AT && -n $RT && $(field token_type) == Bearer && $(field expires_in) == 3600 ]] || fail "token answer"
[[ $(field scope) == "openid offline_access" ]] || fail "granted scope"
IDT=$(field id_token)
req "$URL/jwks" >/dev/null; JWKS=$(cat "$WORK/body")
python3 - "$IDT" "$JWKS" <<'PY' || fail "id_token is not an RS256 JWT signed by a key of the JWKS"
import base64, json, sys
h, p, s = sys.argv[1].split(".")
dec = lambda x: json.loads(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
kids = {k["kid"] for k in json.loads(sys.argv[2])["keys"]}
assert dec(h)["alg"] == "RS256" and dec(h)["kid"] in kids and len(s) > 300 and dec(p)["aud"] == "demo"
PY
poll "$DC"; expect 400 invalid_grant "second exchange of a device code"
poll "nonexistent"; expect 400 invalid_grant "unknown device code"
ok "device flow with --auto-approve=2 (poll 3 got the tokens)"

polls=$(grep -c "\"user_code\":\"$UC\",\"result\":\"authorization_pending\"" "$LOG")
[[ $polls == 2 ]] || fail "log: expected 2 authorization_pending lines, found $polls"
grep -q "\"user_code\":\"$UC\",\"result\":\"issued\",\"status\":200,\"poll\":3" "$LOG" || fail "log: issued line"
ok "request log counts polls"

# On a server of its own with a 30 s interval: "too fast" is then any second poll within 29.8 s,
# which a loaded machine cannot miss (with server a's 1 s interval it could, by being slow).
A_URL=$URL A_LOG=$LOG A_PID=$LAST_PID
start slow --interval 30
authorize demo "openid offline_access"
DC2=$DC
poll "$DC2"; expect 400 authorization_pending "slow_down: first poll"
poll "$DC2"; expect 400 slow_down "slow_down: immediate second poll"
grep -q '"result":"slow_down","status":400,"poll":2,"interval":35' "$LOG" || fail "log: slow_down raises interval to 35"
grep -qF -- "$DC2" "$LOG" && fail "a device code appears in the request log"
URL=$A_URL LOG=$A_LOG LAST_PID=$A_PID
ok "slow_down when polled too fast (interval +5)"

GOT=$(req -d client_id=demo -d grant_type=refresh_token -d refresh_token="$RT" "$URL/token"); expect 200 "" "refresh"
AT2=$(field access_token); RT2=$(field refresh_token)
[[ -n $RT2 && $RT2 != "$RT" && $AT2 != "$AT" ]] || fail "refresh did not rotate"
GOT=$(req -d client_id=demo -d grant_type=refresh_token -d refresh_token="$RT" "$URL/token"); expect 400 invalid_grant "old refresh token after rotation"
GOT=$(req -d client_id=demo -d grant_type=refresh_token -d refresh_token="$RT2" -d scope=openid "$URL/token"); expect 200 "" "narrower refresh"
[[ $(field scope) == openid ]] || fail "narrowed scope"
RT3=$(field refresh_token)
GOT=$(req -d client_id=demo -d grant_type=refresh_token -d refresh_token="$RT3" --data-urlencode "scope=openid admin" "$URL/token")
expect 400 invalid_scope "wider scope on refresh"
ok "refresh rotation, narrowing, invalid_scope"

GOT=$(req -d token="$AT2" "$URL/introspect"); expect 200 "" introspect
[[ $(field active) == true && $(field client_id) == demo && $(field token_type) == Bearer && -n $(field exp) ]] || fail "introspection of a live token"
GOT=$(req -d token="$RT3" -d token_type_hint=refresh_token -d client_id=demo "$URL/revoke"); expect 200 "" "revoke refresh token"
GOT=$(req -d token="$AT2" "$URL/introspect"); [[ $(field active) == false ]] || fail "access token survived revocation of its grant"
GOT=$(req -d token="$AT" "$URL/introspect"); [[ $(field active) == false ]] || fail "first access token survived revocation of its grant"
GOT=$(req -d client_id=demo -d grant_type=refresh_token -d refresh_token="$RT3" "$URL/token"); expect 400 invalid_grant "revoked refresh token"
GOT=$(req -d token=no-such-token "$URL/revoke"); expect 200 "" "revoke unknown token"
GOT=$(req -d token=no-such-token "$URL/introspect"); [[ $(field active) == false ]] || fail "unknown token active"
ok "revocation and introspection"

GOT=$(req -d client_id=demo -d grant_type=password "$URL/token"); expect 400 unsupported_grant_type "unknown grant"
GOT=$(req -d client_id=demo "$URL/token"); expect 400 invalid_request "missing grant_type"
GOT=$(req -d client_id=demo -d grant_type=refresh_token -d grant_type=refresh_token -d refresh_token=x "$URL/token")
expect 400 invalid_request "repeated parameter"
GOT=$(req "$URL/nowhere"); [[ $GOT == 404 ]] || fail "unknown path: $GOT"
ok "malformed requests"

for secret in "$AT" "$AT2" "$RT" "$RT2" "$RT3" "$DC" "$DC2"; do
  grep -qF -- "$secret" "$LOG" && fail "a token or device code appears in the request log"
done
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$LOG" || fail "log line is not JSON"
ok "request log is JSON and free of secrets"

kill -TERM "$LAST_PID"; wait "$LAST_PID"; rc=$?
[[ $rc == 0 ]] || fail "SIGTERM exit status $rc"
ok "SIGTERM exits 0"

# --- B: registered clients, verification page ---------------------------------------------------
start b --interval 0 --client conf:s3cret --client pub --client-scope 'pub=openid,profile'
GOT=$(req -d client_id=conf -d scope=openid "$URL/device_authorization"); expect 401 invalid_client "confidential client without secret"
grep -qi '^www-authenticate: basic' "$WORK/headers" || fail "401 without WWW-Authenticate"
GOT=$(req -d client_id=conf -d client_secret=wrong "$URL/device_authorization"); expect 401 invalid_client "wrong secret"
GOT=$(req -d client_id=stranger "$URL/device_authorization"); expect 401 invalid_client "unregistered client"
GOT=$(req -d client_id=pub -d client_secret=x "$URL/device_authorization"); expect 401 invalid_client "public client with a secret"
authorize conf "openid <script>" -d client_secret=s3cret
authorize conf "openid <script>" -u conf:s3cret
ok "client authentication (none, client_secret_basic, client_secret_post)"

lower=$(echo "$UC" | tr -d - | tr 'A-Z' 'a-z')
GOT=$(req "$URL/device?user_code=$lower"); [[ $GOT == 200 ]] || fail "page for a lower-case code without dash: $GOT"
grep -q 'conf' "$WORK/body" && grep -q 'value="approve"' "$WORK/body" || fail "page does not show the request"
grep -q '<script>' "$WORK/body" && fail "page does not escape the scope"
grep -q '&lt;script&gt;' "$WORK/body" || fail "escaped scope missing"
GOT=$(req "$URL/device"); [[ $GOT == 200 ]] && grep -q 'name="user_code"' "$WORK/body" || fail "empty page"
GOT=$(req "$URL/device?user_code=BBBB-BBBB"); [[ $GOT == 404 ]] || fail "unknown code page: $GOT"
GOT=$(req -d user_code="$lower" -d action=approve "$URL/device"); [[ $GOT == 200 ]] && grep -q 'Approved' "$WORK/body" || fail "approve"
GOT=$(req -u conf:s3cret -d grant_type=$DEVICE_GRANT -d device_code="$DC" "$URL/token"); expect 200 "" "token after approval on the page"
[[ $(field scope) == "openid <script>" ]] || fail "scope after page approval"
authorize pub ""
[[ $(field interval) == 0 ]] || fail "--interval 0"
GOT=$(req -d user_code="$UC" -d action=deny "$URL/device"); [[ $GOT == 200 ]] && grep -q 'Denied' "$WORK/body" || fail "deny"
GOT=$(req -d user_code="$UC" -d action=approve "$URL/device"); grep -q 'Denied' "$WORK/body" || fail "a denied code became approvable"
poll "$DC" pub; expect 400 access_denied "poll after denial"
authorize pub "openid email"
GOT=$(req -d user_code="$UC" -d action=approve "$URL/device")
poll "$DC" pub; expect 200 "" "restricted client"
[[ $(field scope) == openid ]] || fail "--client-scope: granted '$(field scope)', expected 'openid'"
ok "verification page approve/deny, escaping, --client-scope"

# --- C: --deny, D: expiry -----------------------------------------------------------------------
start c --interval 0 --deny
authorize demo openid; poll "$DC"; expect 400 access_denied "--deny"
# The first poll must come before the code expires, so that check runs on a server with the
# default lifetime; only the expiry check uses the 1 s one (and waits past it).
start d --interval 0 --no-refresh-token --auto-approve=0
authorize demo openid; poll "$DC"; expect 200 "" "--auto-approve=0 first poll"
[[ -z $(field refresh_token) ]] || fail "--no-refresh-token"
start d2 --interval 0 --device-code-ttl 1 --auto-approve=0
authorize demo openid; sleep 1.2; poll "$DC"; expect 400 expired_token "expired device code"
ok "--deny, --auto-approve=0, --no-refresh-token, expired_token"

# --- E: faults ----------------------------------------------------------------------------------
start e --interval 0 --auto-approve=0 --fault-count 1 \
  --fault 500 --fault 502 --fault 503 --fault html --fault malformed-json --fault huge --fault reset \
  --fault stall@revoke --fault slow@discovery
tok() { req -d client_id=demo -d grant_type=refresh_token -d refresh_token=x "$URL/token"; }
GOT=$(tok); [[ $GOT == 500 ]] || fail "fault 500: $GOT"
GOT=$(tok); [[ $GOT == 502 ]] || fail "fault 502: $GOT"
GOT=$(tok); [[ $GOT == 503 ]] || fail "fault 503: $GOT"
GOT=$(tok); [[ $GOT == 200 ]] && grep -q '<html' "$WORK/body" || fail "fault html"
GOT=$(tok); [[ $GOT == 200 ]] && ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/body" 2>/dev/null || fail "fault malformed-json"
GOT=$(tok); [[ $GOT == 200 ]] && (( $(stat -c %s "$WORK/body") == 10485760 )) || fail "fault huge"
GOT=$(tok 2>/dev/null); rc=$?; (( rc != 0 )) || fail "fault reset: curl succeeded"
GOT=$(tok); expect 400 invalid_grant "after --fault-count 1 the token endpoint behaves"
GOT=$(req -m 1 -d token=x "$URL/revoke" 2>/dev/null); rc=$?; (( rc == 28 )) || fail "fault stall: curl rc $rc, expected timeout"
GOT=$(req -m 1.5 "$URL/.well-known/oauth-authorization-server" 2>/dev/null); rc=$?; (( rc == 28 )) || fail "fault slow: curl rc $rc"
GOT=$(req "$URL/.well-known/oauth-authorization-server"); expect 200 "" "discovery after slow fault"
grep -q '"result":"fault:stall","status":null' "$LOG" || fail "log: stall line"
ok "faults: 500 502 503 html malformed-json huge reset stall slow, --fault-count"

# --- F: git over HTTP ---------------------------------------------------------------------------
if command -v git >/dev/null; then
  export GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1 HOME=$WORK
  git init -q --bare "$WORK/repos/repo.git"
  start f --interval 0 --auto-approve=0 --git-root "$WORK/repos"
  authorize demo openid; poll "$DC"; expect 200 "" "token for git"; AT=$(field access_token)
  g() { git -c credential.helper= -c user.name=t -c user.email=t@example.invalid "$@"; }
  g clone -q "$URL/git/repo.git" "$WORK/noauth" 2>/dev/null && fail "git clone without a token succeeded"
  g -c http.extraHeader="Authorization: Bearer $AT" clone -q "$URL/git/repo.git" "$WORK/clone" 2>"$WORK/git.err" \
    || { cat "$WORK/git.err" >&2; fail "git clone with Bearer"; }
  echo hello >"$WORK/clone/f.txt"
  g -C "$WORK/clone" add f.txt && g -C "$WORK/clone" commit -qm one
  basic=$(printf 'x-access-token:%s' "$AT" | base64 -w0)
  g -C "$WORK/clone" -c http.extraHeader="Authorization: Basic $basic" push -q origin HEAD:main 2>"$WORK/git.err" \
    || { cat "$WORK/git.err" >&2; fail "git push with Basic"; }
  [[ $(git -C "$WORK/repos/repo.git" log --format=%s main) == one ]] || fail "pushed commit not in the bare repo"
  # git 2.39 answers the Basic challenge with its credential helpers, as it will with git-credential-authctl.
  helper="!f() { echo username=x-access-token; echo password=$AT; }; f"
  g -c credential.helper="$helper" ls-remote "$URL/git/repo.git" >/dev/null 2>"$WORK/git.err" \
    || { cat "$WORK/git.err" >&2; fail "git with a credential helper answering the 401 challenge"; }
  GOT=$(req -d token="$AT" "$URL/revoke"); expect 200 "" "revoke git token"
  g -c http.extraHeader="Authorization: Bearer $AT" ls-remote "$URL/git/repo.git" >/dev/null 2>&1 && fail "revoked token still works for git"
  ok "git clone (Bearer), push (Basic), credential helper; refused without or with a revoked token"
else
  echo "skip - git not installed"
fi

# --- H: provider profiles (PROVIDERS.md's facts on the wire) --------------------------------------
formfield() { python3 -c 'import sys,urllib.parse as u; print(dict(u.parse_qsl(open(sys.argv[1]).read())).get(sys.argv[2],""))' "$WORK/body" "$1"; }
GITARGS=()
if command -v git >/dev/null; then
  mkdir -p "$WORK/repos"; [[ -d $WORK/repos/repo.git ]] || git init -q --bare "$WORK/repos/repo.git"
  GITARGS=(--git-root "$WORK/repos")
fi
start gh --profile github --interval 0 --auto-approve=1 "${GITARGS[@]}"
GOT=$(req -d client_id=x -d scope='repo gist' "$URL/login/device/code")
[[ $GOT == 200 ]] && grep -qi '^content-type: application/x-www-form-urlencoded' "$WORK/headers" || fail "github: device code not form-encoded without Accept"
DC=$(formfield device_code); [[ -n $DC && -z $(formfield verification_uri_complete) ]] || fail "github: device code fields"
gpoll() { GOT=$(req -H 'Accept: application/json' -d client_id=x -d grant_type=$DEVICE_GRANT -d device_code="$1" "$URL/login/oauth/access_token"); }
gpoll "$DC"; expect 200 authorization_pending "github: pending with HTTP 200"
gpoll "$DC"; expect 200 "" "github: tokens"; AT=$(field access_token)
[[ -z $(field expires_in) && -z $(field refresh_token) && -z $(field id_token) && $(field scope) == repo,gist && $(field token_type) == bearer ]] \
  || fail "github: OAuth-app token answer (no expires_in, no refresh_token, comma scopes)"
GOT=$(req -d token=x "$URL/revoke"); expect 404 "" "github: no revocation endpoint"
GOT=$(req "$URL/.well-known/openid-configuration"); expect 404 "" "github: no discovery"
if ((${#GITARGS[@]})); then
  GOT=$(req -H "Authorization: Bearer $AT" "$URL/git/repo.git/info/refs?service=git-upload-pack"); expect 401 "" "github: git refuses Bearer"
  GOT=$(req -u "x-access-token:$AT" "$URL/git/repo.git/info/refs?service=git-upload-pack")
  [[ $GOT == 200 ]] || fail "github: git takes the token as the Basic password (HTTP $GOT)"
fi
start ghs --profile github --interval 0 --slow-down=1
GOT=$(req -H 'Accept: application/json' -d client_id=x "$URL/login/device/code"); DC=$(field device_code)
gpoll "$DC"; expect 200 slow_down "github: slow_down with HTTP 200"
[[ $(field interval) == 5 ]] || fail "github: slow_down carries the new interval"
start ghd --profile github --device-flow-disabled
GOT=$(req -H 'Accept: application/json' -d client_id=x "$URL/login/device/code"); expect 200 device_flow_disabled "github: device flow disabled"
ok "github: form unless JSON, HTTP-200 errors, slow_down interval, comma scopes, no expiry, no revocation, Basic-only git"

start gl --profile gitlab --interval 0 --auto-approve=0 "${GITARGS[@]}"
GOT=$(req "$URL/.well-known/openid-configuration"); expect 200 "" "gitlab discovery"
[[ -z $(field device_authorization_endpoint) && -n $(field token_endpoint) ]] || fail "gitlab: discovery must omit the device endpoint"
GOT=$(req -d client_id=x -d scope=read_repository "$URL/oauth/authorize_device"); expect 200 "" "gitlab device"
[[ $(field expires_in) == 300 && -n $(field verification_uri_complete) ]] || fail "gitlab: device answer"
DC=$(field device_code)
GOT=$(req -d client_id=x -d grant_type=$DEVICE_GRANT -d device_code="$DC" "$URL/oauth/token"); expect 200 "" "gitlab token"
AT=$(field access_token); RT=$(field refresh_token); [[ $(field expires_in) == 7200 && -n $(field created_at) ]] || fail "gitlab: token answer"
if ((${#GITARGS[@]})); then
  GOT=$(req -u "x-access-token:$AT" "$URL/git/repo.git/info/refs?service=git-upload-pack"); expect 401 "" "gitlab: git wants the user oauth2"
  GOT=$(req -u "oauth2:$AT" "$URL/git/repo.git/info/refs?service=git-upload-pack")
  [[ $GOT == 200 ]] || fail "gitlab: git takes oauth2 and the token (HTTP $GOT)"
fi
GOT=$(req -d client_id=x -d grant_type=refresh_token -d refresh_token="$RT" "$URL/oauth/token"); expect 200 "" "gitlab refresh"
GOT=$(req -d token="$AT" "$URL/introspect"); [[ $(field active) == false ]] || fail "gitlab: a refresh kills the old access token"
ok "gitlab: discovery without the device endpoint, 300 s codes, created_at, git user oauth2, refresh kills the old access token"

start go --profile google --interval 0 --auto-approve=1
GOT=$(req -d client_id=x -d scope='openid https://www.googleapis.com/auth/cloud-platform' "$URL/device/code"); expect 400 invalid_scope "google: scope not allowed for device flow"
GOT=$(req -d client_id=x -d scope='openid email' "$URL/device/code"); expect 200 "" "google device"
[[ -n $(field verification_url) && -z $(field verification_uri) ]] || fail "google: verification_url"
DC=$(field device_code)
GOT=$(req -d client_id=x -d grant_type=$DEVICE_GRANT -d device_code="$DC" "$URL/token"); expect 400 invalid_request "google: secret missing from the body"
GOT=$(req -d client_id=x -d client_secret=s -d grant_type=$DEVICE_GRANT -d device_code="$DC" "$URL/token"); expect 428 authorization_pending "google: pending is HTTP 428"
GOT=$(req -d client_id=x -d client_secret=s -d grant_type=$DEVICE_GRANT -d device_code="$DC" "$URL/token"); expect 200 "" "google token"
RT=$(field refresh_token)
GOT=$(req -d client_id=x -d client_secret=s -d grant_type=refresh_token -d refresh_token="$RT" "$URL/token"); expect 200 "" "google refresh"
[[ -z $(field refresh_token) ]] || fail "google: refresh answers carry no refresh_token"
ok "google: verification_url, secret in the body, 428 pending, scope list, refresh token kept"

start en --profile entra --interval 0 --deny
GOT=$(req -d client_id=x -d client_secret=s -d scope=openid "$URL/contoso/oauth2/v2.0/devicecode"); expect 401 invalid_client "entra: secret from a public client"
[[ $(field error_description) == AADSTS700025* ]] || fail "entra: AADSTS700025"
GOT=$(req -d client_id=x -d scope='openid offline_access' "$URL/contoso/oauth2/v2.0/devicecode"); expect 200 "" "entra device"
[[ -n $(field message) && -z $(field verification_uri_complete) ]] || fail "entra: message, no complete URI"
DC=$(field device_code)
GOT=$(req -d client_id=x -d grant_type=$DEVICE_GRANT -d device_code="$DC" "$URL/contoso/oauth2/v2.0/token"); expect 400 authorization_declined "entra: denial"
GOT=$(req -d client_id=x -d grant_type=$DEVICE_GRANT -d device_code=nope "$URL/contoso/oauth2/v2.0/token"); expect 400 bad_verification_code "entra: unknown code"
start en1 --profile entra-v1 --interval 0 --device-flow-disabled
GOT=$(req -d client_id=x -d scope=openid "$URL/contoso/oauth2/devicecode"); expect 200 "" "entra v1 device"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["expires_in"]=="900" and d["interval"]=="0" and "verification_url" in d' "$WORK/body" \
  || fail "entra v1: numbers as strings, verification_url"
DC=$(field device_code)
GOT=$(req -d client_id=x -d grant_type=$DEVICE_GRANT -d device_code="$DC" "$URL/contoso/oauth2/token"); expect 401 invalid_client "entra: public client flows off"
[[ $(field error_description) == AADSTS7000218* ]] || fail "entra: AADSTS7000218"
ok "entra: AADSTS700025, message, authorization_declined, bad_verification_code; v1 string numbers; AADSTS7000218"

start kc --profile keycloak --interval 0 --device-flow-disabled
GOT=$(req -d client_id=x "$URL/realms/r/protocol/openid-connect/auth/device"); expect 400 unauthorized_client "keycloak: device grant disabled"
start kc2 --profile keycloak --interval 0 --auto-approve=0
GOT=$(req "$URL/realms/r/.well-known/openid-configuration"); expect 200 "" "keycloak discovery"
[[ $(field issuer) == "$URL/realms/r" ]] || fail "keycloak: issuer is the realm URL"
GOT=$(req -d client_id=x -d scope=openid "$URL/realms/r/protocol/openid-connect/auth/device"); DC=$(field device_code)
[[ -n $(field verification_uri_complete) ]] || fail "keycloak: verification_uri_complete"
GOT=$(req -d client_id=x -d grant_type=$DEVICE_GRANT -d device_code="$DC" "$URL/realms/r/protocol/openid-connect/token"); expect 200 "" "keycloak token"
[[ -n $(field refresh_expires_in) ]] || fail "keycloak: refresh_expires_in"
ok "keycloak: realm layout, unauthorized_client, verification_uri_complete, refresh_expires_in"

start a0 --profile auth0 --interval 0 --device-code-ttl 1
GOT=$(req -d client_id=x -d audience=https://api.example.com "$URL/oauth/device/code"); DC=$(field device_code)
sleep 1.2
GOT=$(req -d client_id=x -d grant_type=$DEVICE_GRANT -d device_code="$DC" "$URL/oauth/token"); expect 400 expired_token "auth0: expired once"
GOT=$(req -d client_id=x -d grant_type=$DEVICE_GRANT -d device_code="$DC" "$URL/oauth/token"); expect 400 invalid_grant "auth0: then invalid_grant"
start a0b --profile auth0 --interval 0 --auto-approve=0
for audience in "" https://api.example.com; do
  GOT=$(req -d client_id=x ${audience:+-d audience=$audience} "$URL/oauth/device/code"); DC=$(field device_code)
  GOT=$(req -d client_id=x -d grant_type=$DEVICE_GRANT -d device_code="$DC" "$URL/oauth/token"); expect 200 "" "auth0 token"
  AT=$(field access_token)
  GOT=$(req -d token="$AT" "$URL/introspect")
  want=${audience:-$URL/userinfo}
  [[ $(field aud) == "[\"$want\"]" ]] || fail "auth0: aud is $(field aud), expected $want"
done
ok "auth0: expired_token once, then invalid_grant; audience selects the API, without it /userinfo only"

# --- I: authorization code with PKCE (RFC 6749 §4.1, RFC 7636, RFC 8252 §7.3) ----------------------
# The challenge is computed here with python's hashlib, not by the server's own SHA-256.
s256() { python3 -c 'import hashlib,base64,sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$1"; }
location() { grep -i '^location:' "$WORK/headers" | tr -d '\r' | sed 's/^[^:]*: //'; }
qparam() { python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlsplit(sys.argv[1]).query).get(sys.argv[2],[""])[0])' "$(location)" "$1"; }
VERIFIER=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
CHALLENGE=$(s256 "$VERIFIER")
REDIRECT=http://127.0.0.1:9/callback
STATE=st-$RANDOM$RANDOM
# code PATH CLIENT [curl args...]: GET the authorization endpoint; sets CODE from the redirect.
code() {
  local path=$1 client=$2; shift 2
  GOT=$(req -G --data-urlencode response_type=code --data-urlencode client_id="$client" \
    --data-urlencode redirect_uri="$REDIRECT" --data-urlencode state="$STATE" \
    --data-urlencode code_challenge="$CHALLENGE" --data-urlencode code_challenge_method=S256 "$@" "$URL$path")
  CODE=$(qparam code)
}
# exchange PATH CLIENT VERIFIER [curl args...]
exchange() {
  local path=$1 client=$2 verifier=$3; shift 3
  GOT=$(req -d grant_type=authorization_code -d client_id="$client" --data-urlencode code="$CODE" \
    --data-urlencode redirect_uri="$REDIRECT" ${verifier:+--data-urlencode code_verifier="$verifier"} "$@" "$URL$path")
}

start h --interval 0 --auto-approve
GOT=$(req "$URL/.well-known/openid-configuration")
[[ $(field authorization_endpoint) == "$URL/authorize" && $(field code_challenge_methods_supported) == '["S256"]' ]] \
  || fail "discovery names the authorization endpoint and S256"
code /authorize demo --data-urlencode 'scope=openid offline_access' --data-urlencode nonce=n-0S6_WzA2Mj
[[ $GOT == 302 && $(location) == "$REDIRECT?code="* && $(qparam state) == "$STATE" && ${#CODE} -ge 43 ]] \
  || fail "--auto-approve redirects at once with code and state (HTTP $GOT, $(location))"
FIRST=$CODE
exchange /token demo ""; expect 400 invalid_grant "PKCE: a missing code_verifier is refused"
exchange /token demo "$VERIFIER"; expect 400 invalid_grant "a code is spent by a failed attempt"
code /authorize demo --data-urlencode scope=openid
# The last character changed, always to another one (a random verifier may end in x already).
WRONG=${VERIFIER%?}x; [[ $WRONG != "$VERIFIER" ]] || WRONG=${VERIFIER%?}y
exchange /token demo "$WRONG"; expect 400 invalid_grant "PKCE: a wrong code_verifier is refused"
[[ $(field error_description) == *"does not match"* ]] || fail "PKCE: the refusal says the verifier does not match"
code /authorize demo --data-urlencode scope=openid
GOT=$(req -d grant_type=authorization_code -d client_id=demo --data-urlencode code="$CODE" \
  --data-urlencode redirect_uri=http://127.0.0.1:10/callback --data-urlencode code_verifier="$VERIFIER" "$URL/token")
expect 400 invalid_grant "redirect_uri at /token must equal the one at /authorize"
code /authorize demo --data-urlencode 'scope=openid offline_access' --data-urlencode nonce=n-0S6_WzA2Mj
exchange /token demo "$VERIFIER"; expect 200 "" "PKCE: the right code_verifier gets tokens"
AT=$(field access_token); [[ -n $(field refresh_token) ]] || fail "authorization code: refresh token"
python3 -c 'import json,sys,base64; p=json.load(open(sys.argv[1]))["id_token"].split(".")[1]; c=json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4))); assert c["nonce"]=="n-0S6_WzA2Mj" and c["aud"]=="demo", c' "$WORK/body" \
  || fail "the id_token carries the nonce"
exchange /token demo "$VERIFIER"; expect 400 invalid_grant "an authorization code is single-use"
GOT=$(req -d token="$AT" "$URL/introspect"); [[ $(field active) == false ]] || fail "a reused code revokes the tokens it gave"
code /authorize other
exchange /token demo "$VERIFIER"; expect 400 invalid_grant "a code issued to another client"
for bad in https://127.0.0.1:9/cb http://evil.example:9/cb http://127.0.0.1.evil.example:9/cb http://127.0.0.1/cb \
           'http://user@127.0.0.1:9/cb' 'http://127.0.0.1:9/cb#frag' http://127.0.0.2:9/cb http://127.0.0.1:0/cb; do
  GOT=$(req -G --data-urlencode response_type=code --data-urlencode client_id=demo --data-urlencode redirect_uri="$bad" \
    --data-urlencode state="$STATE" --data-urlencode code_challenge="$CHALLENGE" --data-urlencode code_challenge_method=S256 "$URL/authorize")
  [[ $GOT == 400 && -z $(location) ]] || fail "redirect_uri $bad: HTTP $GOT, Location '$(location)' (must be refused, not redirected)"
  grep -q 'Sign-in refused' "$WORK/body" || fail "redirect_uri $bad: error page"
done
for good in 'http://[::1]:9/cb' http://localhost:65535/ 'http://127.0.0.1:9/cb?x=1'; do
  GOT=$(req -G --data-urlencode response_type=code --data-urlencode client_id=demo --data-urlencode redirect_uri="$good" \
    --data-urlencode code_challenge="$CHALLENGE" --data-urlencode code_challenge_method=S256 "$URL/authorize")
  [[ $GOT == 302 && $(location) == "$good"[?\&]code=* ]] || fail "redirect_uri $good: HTTP $GOT, $(location)"
done
GOT=$(req -G --data-urlencode response_type=code --data-urlencode client_id=demo --data-urlencode redirect_uri="$REDIRECT" \
  --data-urlencode state="$STATE" "$URL/authorize")
[[ $GOT == 302 && $(qparam error) == invalid_request && $(qparam state) == "$STATE" && -z $(qparam code) ]] \
  || fail "a missing code_challenge goes back as invalid_request with the state"
GOT=$(req -G --data-urlencode response_type=code --data-urlencode client_id=demo --data-urlencode redirect_uri="$REDIRECT" \
  --data-urlencode code_challenge="$CHALLENGE" --data-urlencode code_challenge_method=plain "$URL/authorize")
[[ $GOT == 302 && $(qparam error) == invalid_request && -z $(qparam code) ]] || fail "code_challenge_method plain is refused"
code /authorize demo --data-urlencode state=again
[[ $GOT == 400 && -z $(location) ]] && grep -q "repeated" "$WORK/body" || fail "a repeated parameter is refused on a page"
GOT=$(req -G --data-urlencode response_type=token --data-urlencode client_id=demo --data-urlencode redirect_uri="$REDIRECT" \
  --data-urlencode code_challenge="$CHALLENGE" --data-urlencode code_challenge_method=S256 "$URL/authorize")
[[ $(qparam error) == unsupported_response_type ]] || fail "response_type=code is required"
for secret in "$FIRST" "$VERIFIER" "$STATE"; do grep -qF -- "$secret" "$LOG" && fail "the request log contains a code, verifier or state"; done
grep -q '"code_fp"' "$LOG" || fail "the request log carries code fingerprints"
ok "authorization code: PKCE S256 (right, wrong, missing), single-use, redirect_uri match, loopback-only redirects, state, nonce, log"

start hd --deny
code /authorize demo
[[ $GOT == 302 && $(qparam error) == access_denied && -n $(qparam error_description) && $(qparam state) == "$STATE" && -z $CODE ]] \
  || fail "--deny redirects with error=access_denied and the state"
start hx --authorization-code-ttl 0 --auto-approve
code /authorize demo; exchange /token demo "$VERIFIER"; expect 400 invalid_grant "an expired code"
[[ $(field error_description) == *expired* ]] || fail "the refusal says the code expired"
start hp --client pub --client conf:s3cret
code /authorize pub
[[ $GOT == 200 ]] && grep -q 'name="action" value="approve"' "$WORK/body" || fail "without an automatic decision: the approval page"
grep -q "value=\"$STATE\"" "$WORK/body" || fail "the page carries the state"
GOT=$(req -d response_type=code -d client_id=pub --data-urlencode redirect_uri="$REDIRECT" -d state="$STATE" \
  -d code_challenge="$CHALLENGE" -d code_challenge_method=S256 -d action=approve "$URL/authorize")
CODE=$(qparam code); [[ $GOT == 302 && -n $CODE && $(qparam state) == "$STATE" ]] || fail "approve on the page redirects with a code"
exchange /token pub "$VERIFIER"; expect 200 "" "public client"
GOT=$(req -d response_type=code -d client_id=pub --data-urlencode redirect_uri="$REDIRECT" -d state="$STATE" \
  -d code_challenge="$CHALLENGE" -d code_challenge_method=S256 -d action=deny "$URL/authorize")
[[ $(qparam error) == access_denied ]] || fail "deny on the page"
code /authorize nobody; [[ $GOT == 400 && -z $(location) ]] || fail "an unknown client is refused on a page"
GOT=$(req -d response_type=code -d client_id=conf --data-urlencode redirect_uri="$REDIRECT" \
  -d code_challenge="$CHALLENGE" -d code_challenge_method=S256 -d action=approve "$URL/authorize"); CODE=$(qparam code)
exchange /token conf "$VERIFIER"; expect 401 invalid_client "a confidential client must authenticate"
GOT=$(req -d response_type=code -d client_id=conf --data-urlencode redirect_uri="$REDIRECT" \
  -d code_challenge="$CHALLENGE" -d code_challenge_method=S256 -d action=approve "$URL/authorize"); CODE=$(qparam code)
exchange /token conf "$VERIFIER" -u conf:s3cret; expect 200 "" "a confidential client with Basic"
ok "authorization code: --deny, expiry, approval page, public and confidential clients"

# Each profile's own paths and habits.
start hgh --profile github --auto-approve
code /login/oauth/authorize x
exchange /login/oauth/access_token x "$VERIFIER" -H 'Accept: application/json'; expect 200 "" "github: authorization code"
[[ $(field token_type) == bearer && -z $(field refresh_token) ]] || fail "github: OAuth-app token answer"
exchange /login/oauth/access_token x "$VERIFIER" -H 'Accept: application/json'; expect 200 bad_verification_code "github: a used code"
for p in "entra /contoso/oauth2/v2.0/authorize /contoso/oauth2/v2.0/token" "keycloak /realms/r/protocol/openid-connect/auth /realms/r/protocol/openid-connect/token" \
         "okta /oauth2/default/v1/authorize /oauth2/default/v1/token" "auth0 /authorize /oauth/token" "gitlab /oauth/authorize /oauth/token" \
         "google /o/oauth2/v2/auth /token"; do
  read -r prof az tok <<<"$p"
  start "h$prof" --profile "$prof" --auto-approve
  code "$az" x --data-urlencode scope=openid
  extra=(); [[ $prof == google ]] && extra=(-d client_secret=s)
  exchange "$tok" x "$VERIFIER" "${extra[@]}"; expect 200 "" "$prof: authorization code at $az"
done
ok "authorization code at each profile's paths"

# --device-flow-disabled refuses only the device flow: the authorization code flow still works (a client's fallback).
start hen --profile entra --interval 0 --auto-approve --device-flow-disabled=policy
GOT=$(req -d client_id=x -d scope=openid "$URL/contoso/oauth2/v2.0/devicecode"); expect 200 "" "entra policy: the code is issued"
DC=$(field device_code)
GOT=$(req -d client_id=x -d grant_type=$DEVICE_GRANT -d device_code="$DC" "$URL/contoso/oauth2/v2.0/token"); expect 400 invalid_grant "entra policy: polling refused"
[[ $(field error_description) == AADSTS53003* && $(field error_codes) == '[53003]' ]] || fail "entra policy: AADSTS53003"
code /contoso/oauth2/v2.0/authorize x; exchange /contoso/oauth2/v2.0/token x "$VERIFIER"; expect 200 "" "entra policy: authorization code still works"
for p in "github /login/device/code /login/oauth/authorize /login/oauth/access_token device_flow_disabled" \
         "keycloak /realms/r/protocol/openid-connect/auth/device /realms/r/protocol/openid-connect/auth /realms/r/protocol/openid-connect/token unauthorized_client" \
         "standard /device_authorization /authorize /token unauthorized_client"; do
  read -r prof dev az tok err <<<"$p"
  start "hd$prof" --profile "$prof" --auto-approve --device-flow-disabled
  GOT=$(req -H 'Accept: application/json' -d client_id=x "$URL$dev"); [[ $(field error) == "$err" ]] || fail "$prof: device flow refused with $err"
  code "$az" x; exchange "$tok" x "$VERIFIER" -H 'Accept: application/json'; expect 200 "" "$prof: authorization code despite --device-flow-disabled"
done
"$BIN" --profile github --device-flow-disabled=policy --port 0 >/dev/null 2>&1 && fail "--device-flow-disabled=policy accepted outside Entra"
ok "--device-flow-disabled: each profile's refusal (Entra policy AADSTS53003), the authorization code flow unaffected"

for prof in gitea forgejo codeberg; do
  start "$prof" --profile "$prof" --auto-approve "${GITARGS[@]}"
  GOT=$(req "$URL/.well-known/openid-configuration")
  [[ $(field authorization_endpoint) == "$URL/login/oauth/authorize" && -z $(field device_authorization_endpoint) ]] \
    || fail "$prof: discovery names the authorization endpoint and no device endpoint"
  GOT=$(req -d client_id=x "$URL/login/device/code"); expect 404 "" "$prof: no device flow"
  GOT=$(req -d client_id=x -d grant_type=$DEVICE_GRANT -d device_code=x "$URL/login/oauth/access_token")
  expect 400 unsupported_grant_type "$prof: no device_code grant"
  code /login/oauth/authorize x
  exchange /login/oauth/access_token x "$VERIFIER"; expect 200 "" "$prof: authorization code"
  [[ $(field token_type) == bearer && -n $(field expires_in) ]] || fail "$prof: token answer"
  AT=$(field access_token); RT=$(field refresh_token)
  GOT=$(req -d client_id=x -d grant_type=refresh_token -d refresh_token="$RT" "$URL/login/oauth/access_token"); expect 200 "" "$prof: refresh"
  GOT=$(req -d client_id=x -d grant_type=refresh_token -d refresh_token="$RT" "$URL/login/oauth/access_token")
  expect 400 invalid_grant "$prof: refresh tokens rotate"
  if ((${#GITARGS[@]})); then
    code /login/oauth/authorize x; exchange /login/oauth/access_token x "$VERIFIER"; AT=$(field access_token)
    GOT=$(req -u "anyone:$AT" "$URL/git/repo.git/info/refs?service=git-upload-pack")
    [[ $GOT == 200 ]] || fail "$prof: git takes the token as the Basic password, any user name (HTTP $GOT)"
    GOT=$(req -u "anyone:wrong" "$URL/git/repo.git/info/refs?service=git-upload-pack"); expect 401 "" "$prof: git refuses a wrong token"
  fi
done
ok "gitea, forgejo, codeberg: /login/oauth paths, no device flow, JSON answers, rotating refresh tokens, Basic git"

start bb --profile bitbucket --auto-approve "${GITARGS[@]}"
GOT=$(req "$URL/.well-known/openid-configuration"); expect 404 "" "bitbucket: no discovery"
code /site/oauth2/authorize consumer --data-urlencode scope=repository
exchange /site/oauth2/access_token consumer "$VERIFIER"; expect 401 invalid_client "bitbucket: Basic client authentication required"
code /site/oauth2/authorize consumer --data-urlencode scope=repository
exchange /site/oauth2/access_token consumer "$VERIFIER" -u consumer:secret; expect 200 "" "bitbucket: authorization code"
[[ $(field scopes) == repository && $(field expires_in) == 7200 ]] || fail "bitbucket: token answer (scopes, 2 h)"
AT=$(field access_token)
if ((${#GITARGS[@]})); then
  GOT=$(req -u "oauth2:$AT" "$URL/git/repo.git/info/refs?service=git-upload-pack"); expect 401 "" "bitbucket: git wants x-token-auth"
  GOT=$(req -u "x-token-auth:$AT" "$URL/git/repo.git/info/refs?service=git-upload-pack")
  [[ $GOT == 200 ]] || fail "bitbucket: git takes x-token-auth and the token (HTTP $GOT)"
fi
ok "bitbucket: /site/oauth2 paths, Basic client authentication, scopes field, git user x-token-auth"

# --- G: loopback only ---------------------------------------------------------------------------
"$BIN" --host 0.0.0.0 --port 0 >/dev/null 2>&1 && fail "--host 0.0.0.0 accepted"
ok "non-loopback --host refused"
echo "devserver-smoke: all passed"
