#!/usr/bin/env python3
"""Writes the committed seed corpus, fuzz/corpus/TARGET/NAME, from the examples below.

Run from anywhere: `python3 fuzz/seeds.py`. It rewrites only the files it names (files added by
hand, e.g. a minimized crash input, are kept). Each seed is a real message: the protocol's own
examples (docs/protocol.md), the contract's config, answers shaped like the providers' (their
quirks from PROVIDERS.md), git's credential descriptions, and the store fixture.
"""
import os
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    directory = os.path.join(ROOT, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


# --- request: one protocol line (a request or a reply), without its newline --------------------
REQUESTS = {
    "version": '{"op":"version"}',
    "version-v1": '{"v":1,"op":"version"}',
    "status": '{"v":1,"op":"status"}',
    "get": '{"v":1,"op":"get","audience":"demo","min_valid":300,"interactive":true}',
    "get-defaults": '{"op":"get","audience":"work-git"}',
    "login": '{"op":"login","audience":"demo"}',
    "logout": '{"op":"logout","audience":"demo"}',
    "logout-all": '{"op":"logout","all":true}',
    "erase": '{"op":"erase","audience":"demo","fingerprint":"9F86D081884C7D65"}',
    "erase-any-audience": '{"op":"erase","fingerprint":"9f86d081884c7d65"}',
    "bad-version": '{"v":2,"op":"status"}',
    "escapes": '{"op":"get","audience":"a.b_c-d","x":["\\u00e9\\ud83d\\ude00\\n",1.5e3,-0,null,{"k":false}]}',
    "reply-prompt": '{"event":"prompt","audience":"demo","verification_uri":"http://127.0.0.1:8765/device",'
                    '"user_code":"BCDF-GHJK","verification_uri_complete":"http://127.0.0.1:8765/device?user_code=BCDF-GHJK",'
                    '"expires_at":1795720600,"expires_in":600,"qr":["1111111010","1000001011"],"message":"Enter the code"}',
    "reply-progress": '{"event":"progress","stage":"slow_down","interval":10}',
    "reply-token": '{"ok":true,"access_token":"gho_x","token_type":"Bearer","expires_at":1795720000,'
                   '"scope":"openid offline_access","fingerprint":"9f86d081884c7d65"}',
    "reply-error": '{"ok":false,"error":"login_needed","message":"demo: login needed","hint":"run: authctl login demo"}',
    "reply-status": '{"ok":true,"audiences":[{"audience":"demo","state":"valid","issuer":"http://127.0.0.1:8765",'
                    '"scopes":["openid"],"expires_at":1795720000,"refresh_at":null,"has_refresh_token":true,'
                    '"login_at":1795716400,"persist":true,"subject":"alice"}]}',
}

# --- git-credential: what git writes to a helper's stdin ------------------------------------------
GIT = {
    "get": "protocol=https\nhost=github.example.com\n\n",
    "get-path": "protocol=https\nhost=git.example.com\npath=team/repo.git\nusername=alice\n\n",
    "get-authtype": "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=git.example.com\npath=team/x.git\n\n",
    "get-port-ipv6": "protocol=http\nhost=[::1]:8080\npath=repo.git\n\n",
    "get-url": "url=https://alice@git.example.com/team/repo.git\n\n",
    "get-url-userinfo": "url=https://user:pw@github.example.com:443/org/repo\nprotocol=https\n\n",
    "erase-authtype": "capability[]=authtype\nprotocol=https\nhost=git.example.com\nauthtype=Bearer\ncredential=eyJhbGciOi.x.y\n\n",
    "erase-basic": "protocol=https\nhost=github.example.com\nusername=x-access-token\npassword=ghu_secret\n\n",
    "store": "protocol=https\nhost=github.example.com\nusername=x-access-token\npassword=ghu_x\npassword_expiry_utc=1795720000\n\n",
    "crlf": "protocol=https\r\nhost=github.example.com\r\n\r\n",
    "eof-without-blank": "protocol=https\nhost=github.example.com",
    "line-over-8k": "protocol=https\nhost=git.example.com\npath=" + "a/" * 4100 + "\n\n",
    "over-64k": "protocol=https\nhost=git.example.com\n" + ("wwwauth[]=" + "b" * 1000 + "\n") * 66 + "\n",
    "unknown-keys": "wwwauth[]=Bearer realm=\"x\"\nprotocol=https\nhost=git.example.com\noauth_refresh_token=r\n\nprotocol=ignored\n",
}

# --- config: TOML files -------------------------------------------------------------------------
CONTRACT_CONFIG = '''[daemon]
refresh_margin = "5m"     # refresh this long before expiry
max_session   = "12h"
autostart     = true

[audience.work-git]
provider  = "github"
client_id = "Iv1.0123456789abcdef"
base_url  = "https://github.example.com"
git_urls  = ["https://github.example.com/"]

[audience.demo]
issuer    = "http://127.0.0.1:8765"
device_authorization_endpoint = "http://127.0.0.1:8765/device_authorization"
token_endpoint                = "http://127.0.0.1:8765/token"
revocation_endpoint           = "http://127.0.0.1:8765/revoke"
client_id     = "authctl-test"
client_secret = "..."
scopes        = ["openid", "offline_access"]
resource      = ["https://api.example.com"]
extra_params  = { audience = "https://api.example.com" }
git_urls      = ["https://git.example.com/"]
git_username  = "oauth2"
git_auth      = "basic"
persist       = true
require_tty   = false
allowed_clients = []
'''
CONFIGS = {
    "contract-example.toml": CONTRACT_CONFIG,
    "gitlab.toml": '[audience.gl]\nprovider = "gitlab"\nclient_id = "abc"\nbase_url = "https://gitlab.example.com"\n'
                   'git_urls = ["https://gitlab.example.com/group/"]\ngit_username = "oauth2"\n',
    "google.toml": '[audience.g]\nprovider = "google"\nclient_id = "123.apps.googleusercontent.com"\n'
                   'client_secret_file = "~/.config/authd/google.secret"\nscopes = ["openid", "email"]\n',
    "entra.toml": '[audience.ado]\nprovider = "azure-devops"\ntenant = "contoso.onmicrosoft.com"\n'
                  'client_id = "00000000-0000-0000-0000-000000000000"\ngit_urls = ["https://dev.azure.com/contoso/"]\n',
    "keycloak-okta-auth0.toml": '[audience.kc]\nprovider = "keycloak"\nbase_url = "https://sso.example.com/realms/r"\n'
                                'client_id = "cli"\n[audience.okta]\nprovider = "okta"\nbase_url = "https://x.okta.com"\n'
                                'client_id = "0oa"\n[audience.a0]\nprovider = "auth0"\nbase_url = "https://t.eu.auth0.com"\n'
                                'client_id = "c"\nextra_params = { audience = "https://api" }\n',
    "oidc-bearer.toml": '[audience."gitea.local"]\nprovider = "oidc"\nissuer = "https://[::1]:3000/"\nclient_id = "g"\n'
                        'git_auth = "bearer"\ngit_urls = ["https://[::1]:3000/org/repo.git"]\nallowed_clients = ["/usr/bin/git*"]\n',
    "durations.toml": '[daemon]\nrefresh_margin = 90\nmax_session = "1h30m"\naudit = "stderr"\nautostart = false\n'
                      '[audience.d]\ndevice_authorization_endpoint = "http://localhost:1/d"\ntoken_endpoint = "http://127.1.2.3:9/t"\n'
                      'client_id = "d"\npersist = false\nrequire_tty = true\n',
    "typos.toml": '[deamon]\nautostart = "yes"\n[audience.demo]\nclient_id = 5\nscpoes = ["a"]\n'
                  'token_endpoint = "http://example.com/token"\n',
    "toml-syntax.toml": '# every TOML form the parser knows\na = 1_000\nb = 0x1F\nc = 0o17\nd = 0b101\ne = -3.5e+2\nf = inf\n'
                        'g = nan\nh = 1979-05-27T07:32:00Z\ni = 07:32:00\nj = """\nmulti\\\n  line"""\nk = \'\'\'raw\'\'\'\n'
                        'l = [1, [2, "x"], { m = true }]\n"q.k".\'r\' = "\\u00e9\\U0001F600"\n[[arr]]\nn = 1\n[[arr]]\nn = 2\n'
                        '[t.u.v]\nw = {}\n',
    "dotted-and-inline.toml": 'audience.demo.client_id = "x"\naudience.demo.issuer = "https://issuer.example.com"\n'
                              '[audience.other]\nprovider = "entra"\ntenant = "common"\nclient_id = "y"\nscopes = []\n',
    "empty.toml": "",
    "comments-crlf.toml": "# comment\r\n[daemon] # trailing\r\nautostart = true\r\n",
}

# --- oauth: 4 selector bytes (operation, status, content type, Retry-After), then the body --------
# operation: 0 device authorization, 1/5 poll, 2 refresh, 3 revoke, 4 discovery
# status: 0=200 1=400 2=401 3=403 4=429 5=500 6=503 7=302 8=408
# content type: 0=json 1=form 2=none 3=text/html 4=json;charset 5=text/plain
# Retry-After: 0=none 1="120" 2=HTTP-date
JSON, FORM, NONE, HTML = 0, 1, 2, 3
OAUTH = {
    "device-github-form": (0, 0, FORM, 0, "device_code=3584d83530557fdd1f46af8289938c8ef79f9dc5&user_code=WDJB-MJHT"
                                          "&verification_uri=https%3A%2F%2Fgithub.com%2Flogin%2Fdevice&expires_in=900&interval=5"),
    "device-google-url": (0, 0, JSON, 0, '{"device_code":"AH-1Ng2","user_code":"GQVQ-JKEC","verification_url":'
                                         '"https://www.google.com/device","expires_in":1800,"interval":5}'),
    "device-entra-v1-strings": (0, 0, JSON, 0, '{"user_code":"FGH3JKL","device_code":"DAQABAAEAAAD","verification_url":'
                                               '"https://microsoft.com/devicelogin","expires_in":"900","interval":"5",'
                                               '"message":"To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code FGH3JKL."}'),
    "device-gitlab-complete": (0, 0, JSON, 0, '{"device_code":"GmRhmhcx","user_code":"0A44L90H","verification_uri":'
                                              '"https://gitlab.example.com/oauth/device","verification_uri_complete":'
                                              '"https://gitlab.example.com/oauth/device?user_code=0A44L90H","expires_in":300,"interval":5}'),
    "device-entra-not-public": (0, 1, JSON, 0, '{"error":"invalid_client","error_description":"AADSTS7000218: The request body must contain client_assertion"}'),
    "poll-github-pending": (1, 0, FORM, 0, "error=authorization_pending&error_description=The+authorization+request+is+still+pending."),
    "poll-github-slow-down": (1, 0, FORM, 0, "error=slow_down&error_description=Too+many+requests&interval=10"),
    "poll-keycloak-slow-down": (1, 1, JSON, 0, '{"error":"slow_down","error_description":"Slow down"}'),
    "poll-entra-declined": (1, 1, JSON, 0, '{"error":"authorization_declined","error_description":"AADSTS70000: The user declined"}'),
    "poll-github-disabled": (1, 0, JSON, 0, '{"error":"device_flow_disabled","error_description":"Device Flow must be explicitly enabled for this App"}'),
    "poll-expired": (1, 1, JSON, 0, '{"error":"expired_token"}'),
    "poll-github-token-form": (1, 0, FORM, 0, "access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer"),
    "poll-token-id-token": (5, 0, JSON, 0, '{"access_token":"at","token_type":"Bearer","expires_in":3599,"refresh_token":"rt",'
                                           '"scope":"openid offline_access","id_token":"eyJhbGciOiJub25lIn0.'
                                           'eyJzdWIiOiJhbGljZSIsInByZWZlcnJlZF91c2VybmFtZSI6ImFsaWNlIiwiaXNzIjoiaHR0cHM6Ly9pIn0.",'
                                           '"ext_expires_in":3599}'),
    "poll-429": (1, 4, NONE, 1, ""),
    "poll-503-html": (1, 6, HTML, 0, "<html><body>Service Unavailable</body></html>"),
    "refresh-github-app": (2, 0, JSON, 0, '{"access_token":"ghu_new","expires_in":28800,"refresh_token":"ghr_new",'
                                          '"refresh_token_expires_in":15811200,"scope":"","token_type":"bearer"}'),
    "refresh-keep-previous": (2, 0, JSON, 0, '{"access_token":"new","expires_in":"3600","token_type":"Bearer","scope":["a","b"]}'),
    "refresh-invalid-grant": (2, 1, JSON, 0, '{"error":"invalid_grant","error_description":"Token is not active"}'),
    "refresh-mac": (2, 0, FORM, 0, "access_token=x&token_type=mac"),
    "revoke-ok": (3, 0, NONE, 0, ""),
    "revoke-unsupported": (3, 1, JSON, 0, '{"error":"unsupported_token_type"}'),
    "discovery-oidc": (4, 0, JSON, 0, '{"issuer":"https://issuer.example.com","authorization_endpoint":"https://issuer.example.com/auth",'
                                      '"device_authorization_endpoint":"https://issuer.example.com/device/code","token_endpoint":'
                                      '"https://issuer.example.com/token","revocation_endpoint":"https://issuer.example.com/revoke",'
                                      '"grant_types_supported":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"],'
                                      '"token_endpoint_auth_methods_supported":["client_secret_post","client_secret_basic"]}'),
    "discovery-gitlab-no-device": (4, 0, JSON, 0, '{"issuer":"https://issuer.example.com/","token_endpoint":"https://issuer.example.com/oauth/token"}'),
    # Inputs that found bugs (docs/fuzzing.md, "Found"), exactly as libFuzzer wrote them.
    "regress-poll-error-code-control": (1, 0, FORM, 0, b"error=authorization_\x00ending&err}or_description=The+authorizatexpires_int+is+still+pending."),
    "regress-discovery-issuer-control": (4, 0, JSON, 0, b'{"issuer":"https:/authorixation_pendinJil.ex\x7fmple.com/t"}'),
    "regress-refresh-token-type-echo": (2, 0, FORM, 0, b"access_token=x&token_type=m" + b"\x00" * 66 + b"REFRESH-SECRET-0815" + b"\x00" * 34 + b"ac"),
    "regress-scope-control": (1, 0, FORM, 0, b"access_token=ghc6912E78\x00\x00\x00\x00\x00a&scope=rep\x0e%2Cg.ist&tokenIntpe=bearez"),
    "regress-discovery-endpoint-control": (4, 0, JSON, 0, b'{"issuer":"https://issuer.example.com","authorization_endpoint":"https://issuer.example.com/auth",'
                                                          b'"device_authorization_endpoint":"https:/\\u001br.example.com/device/code","token_e~dpoint":'
                                                          b'"https://is:uer.example.com/token","ret_auth_methods_supported":["client_secret_post","client_secret_basic"]}'),
    "discovery-other-issuer": (4, 0, JSON, 0, '{"issuer":"https://evil.example.com","token_endpoint":"http://evil.example.com/t"}'),
}

# --- store: byte 0 even = a whole file, odd = one record's plaintext -------------------------------


def short_string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def record_plaintext(flags, login, access_expiry, refresh_expiry, refresh, access, scopes, subject):
    metadata = bytes([1, flags]) + struct.pack(">qqqII", login, access_expiry, refresh_expiry, len(refresh), len(access))
    metadata += struct.pack(">H", len(scopes)) + b"".join(short_string(s) for s in scopes) + short_string(subject)
    return struct.pack(">I", len(metadata)) + metadata + refresh + access


def store_seeds():
    fixtures = os.path.join(ROOT, "..", "Tests", "AuthdStoreTests", "Fixtures")
    with open(os.path.join(fixtures, "tokens.store"), "rb") as f:
        fixture = f.read()
    magic = b"\x89AUTHD\r\n"
    argon_header = magic + bytes([1, 1, 2, 0]) + struct.pack(">QQ", 2, 64 << 20) + b"S" * 16 + b"F" * 16 + struct.pack(">I", 1)
    return {
        "fixture-two-logins": b"\x00" + fixture,
        "fixture-truncated": b"\x00" + fixture[:200],
        "fixture-header-only": b"\x00" + fixture[:0x48],
        "argon2id-header": b"\x00" + argon_header + b"N" * 24 + b"T" * 16,
        "argon2id-absurd-limits": b"\x00" + magic + bytes([1, 1, 2, 0]) + struct.pack(">QQ", 1 << 40, 1 << 62) + b"S" * 40,
        "not-a-store": b"\x00" + b"[daemon]\nautostart = true\n",
        "version-2": b"\x00" + magic + bytes([2, 1, 1, 0]),
        "record-full": b"\x01" + record_plaintext(31, 1795716400, 1795720000, 1811527600, b"ghr_refresh", b"ghu_access",
                                                  ["openid", "offline_access"], "alice"),
        "record-access-only": b"\x01" + record_plaintext(2, 1795716400, 0, 0, b"", b"gho_token", ["repo", "gist"], ""),
        "record-empty": b"\x01" + record_plaintext(0, 0, 0, 0, b"", b"", [], ""),
        "record-negative-times": b"\x01" + record_plaintext(12, -1, -(1 << 63), (1 << 63) - 1, b"", b"", ["a" * 300], "\u00e9"),
        "record-bad-lengths": b"\x01" + record_plaintext(3, 1, 0, 0, b"r", b"a", [], "")[:-1],
    }


def main():
    for name, line in REQUESTS.items():
        write("request", name, line)
    for name, text in GIT.items():
        write("git-credential", name, text)
    for name, text in CONFIGS.items():
        write("config", name, text)
    for name, (op, status, ctype, retry, body) in OAUTH.items():
        write("oauth", name, bytes([op, status, ctype, retry]) + (body if isinstance(body, bytes) else body.encode()))
    for name, data in store_seeds().items():
        write("store", name, data)


if __name__ == "__main__":
    main()
