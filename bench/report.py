#!/usr/bin/env python3
"""Turns bench/run.sh's raw measurements into bench/results/<stamp>.json and .md.

Every ratio is of two numbers measured in the same run. p99 of hyperfine runs is computed from
the per-run times in its JSON export (hyperfine itself reports only mean, median, min, max)."""
import json
import math
import sys
from pathlib import Path


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def ms(us):
    return f"{us / 1000:.2f}"


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    raw, out = Path(sys.argv[1]), Path(sys.argv[2])
    machine = json.loads((raw / "machine.json").read_text())
    result = {"machine": machine}
    md = []
    md.append(f"# authd benchmark, {out.name}\n")
    md.append(f"Machine: {machine['cpu']}, {machine['cores']} cores, Linux {machine['kernel']}; {machine['swift']}; "
              f"{machine['oidc_agent']}; {machine['git']}; {machine['hyperfine']}. Load average at start: "
              f"{machine['loadavg_at_start']}.{' Quick mode.' if machine['quick'] else ''}\n")

    # 1. whole-process clients
    clients = json.loads((raw / "clients.json").read_text())["results"]
    rows = {}
    for r in clients:
        times = [t * 1e6 for t in r["times"]]
        rows[r["command"]] = {"median_us": percentile(times, 50), "p99_us": percentile(times, 99),
                              "mean_us": r["mean"] * 1e6, "min_us": r["min"] * 1e6, "runs": len(times)}
    git = jsonl(raw / "git.jsonl")
    gitrows = {}
    for r in git:
        entry = gitrows.setdefault(r["name"], {"p50": [], "p99": [], "runs": 0, "failures": 0})
        entry["p50"].append(r["p50_us"])
        entry["p99"].append(r["p99_us"])
        entry["runs"] += r["runs"]
        entry["failures"] += r["failures"]
    for name, entry in gitrows.items():
        # Blocks interleave the two git paths; report the mean of the blocks' percentiles.
        rows[name] = {"median_us": sum(entry["p50"]) / len(entry["p50"]), "p99_us": sum(entry["p99"]) / len(entry["p99"]),
                      "runs": entry["runs"], "failures": entry["failures"]}
    result["clients"] = rows
    a, o = rows["authctl get"], rows["oidc-token"]
    ga, gc = rows["git via git-credential-authctl"], rows["git via credential-cache"]
    floor = rows["C floor, static"]
    result["client_ratios"] = {
        "authctl_over_oidc_token_median": ratio(a["median_us"], o["median_us"]),
        "authctl_over_oidc_token_p99": ratio(a["p99_us"], o["p99_us"]),
        "authctl_over_floor_static_median": ratio(a["median_us"], floor["median_us"]),
        "git_authd_over_git_cache_median": ratio(ga["median_us"], gc["median_us"]),
        "git_authd_over_git_cache_p99": ratio(ga["p99_us"], gc["p99_us"]),
    }
    gf = rows.get("git via the C floor helper")
    if gf:
        result["client_ratios"]["git_floor_helper_over_git_cache_median"] = ratio(gf["median_us"], gc["median_us"])
        result["client_ratios"]["git_authd_over_floor_helper_median"] = ratio(ga["median_us"], gf["median_us"])
    sf = rows.get("Swift floor, static")
    if sf:
        result["client_ratios"]["swift_floor_over_oidc_token_median"] = ratio(sf["median_us"], o["median_us"])
        result["client_ratios"]["authctl_over_swift_floor_median"] = ratio(a["median_us"], sf["median_us"])
    gsf = rows.get("git via the Swift floor helper")
    if gsf:
        result["client_ratios"]["git_swift_floor_helper_over_git_cache_median"] = ratio(gsf["median_us"], gc["median_us"])
        result["client_ratios"]["git_authd_over_swift_floor_helper_median"] = ratio(ga["median_us"], gsf["median_us"])
    gs = rows.get("git via credential.helper=authctl")
    if gs:
        result["client_ratios"]["git_short_name_over_git_cache_median"] = ratio(gs["median_us"], gc["median_us"])
        result["client_ratios"]["git_short_name_over_git_cache_p99"] = ratio(gs["p99_us"], gc["p99_us"])
    md.append("## 1. Cached token, whole process\n")
    md.append("| client | median ms | p99 ms | × oidc-token (median) | × C floor static (median) | runs |")
    md.append("|---|---|---|---|---|---|")
    for name in ["authctl get", "oidc-token", "Swift floor, static", "C floor, static", "C floor, dynamic",
                 "authctl get (spawn timer)", "oidc-token (spawn timer)"]:
        if name in rows:
            r = rows[name]
            md.append(f"| {name} | {ms(r['median_us'])} | {ms(r['p99_us'])} | {ratio(r['median_us'], o['median_us']):.2f} | "
                      f"{ratio(r['median_us'], floor['median_us']):.2f} | {r['runs']} |")
    md.append("")
    md.append("| git credential fill through | median ms | p99 ms | × credential-cache (median) | × (p99) | runs |")
    md.append("|---|---|---|---|---|---|")
    for name in ["git via git-credential-authctl", "git via credential.helper=authctl", "git via credential-cache",
                 "git via the Swift floor helper", "git via the C floor helper"]:
        if name not in rows:
            continue
        r = rows[name]
        label = {"git via git-credential-authctl": "git-credential-authctl (absolute path, as README and `authctl setup git` configure it)",
                 "git via credential.helper=authctl": "`credential.helper=authctl` (short name: a second git process)",
                 "git via the Swift floor helper": "the Swift floor helper (bench/floor-helper.swift: the same, a static Swift program)",
                 "git via the C floor helper": "the C floor helper (bench/floor-helper.c: prints fixed credentials; no helper is faster)"}.get(name, name.removeprefix('git via '))
        md.append(f"| {label} | {ms(r['median_us'])} | {ms(r['p99_us'])} | "
                  f"{ratio(r['median_us'], gc['median_us']):.2f} | {ratio(r['p99_us'], gc['p99_us']):.2f} | {r['runs']} |")
    md.append("")
    if gf:
        md.append(f"A helper that only prints fixed credentials (the C floor helper) measures "
                  f"{result['client_ratios']['git_floor_helper_over_git_cache_median']:.2f}× credential-cache in this run; "
                  f"git-credential-authctl is {result['client_ratios']['git_authd_over_floor_helper_median']:.2f}× that floor.\n")
    cr = result["client_ratios"]
    if sf:
        md.append(f"The Swift floor (bench/floor.swift: floor.c's exchange as a static Swift program, no product code) "
                  f"measures {cr['swift_floor_over_oidc_token_median']:.2f}× oidc-token; authctl get is "
                  f"{cr['authctl_over_swift_floor_median']:.2f}× that floor.")
    if gsf:
        md.append(f"Through git, the Swift floor helper measures {cr['git_swift_floor_helper_over_git_cache_median']:.2f}× "
                  f"credential-cache; git-credential-authctl is {cr['git_authd_over_swift_floor_helper_median']:.2f}× it.")
    if sf or gsf:
        md.append("")
    md.append(f"Targets: `authctl get` ≤ 0.8× `oidc-token`: measured **{cr['authctl_over_oidc_token_median']:.2f}×** "
              f"(median), {cr['authctl_over_oidc_token_p99']:.2f}× (p99) — "
              f"{'met' if cr['authctl_over_oidc_token_median'] <= 0.8 else 'NOT met'}. "
              f"git path ≤ 0.9× git's cache: **{cr['git_authd_over_git_cache_median']:.2f}×** (median), "
              f"{cr['git_authd_over_git_cache_p99']:.2f}× (p99) — "
              f"{'met' if cr['git_authd_over_git_cache_median'] <= 0.9 else 'NOT met'} (absolute path"
              + (f"; short name {cr['git_short_name_over_git_cache_median']:.2f}×" if 'git_short_name_over_git_cache_median' in cr else "")
              + ").\n")
    md.append("hyperfine `-N` (no shell) for the first group; the git rows and the \"spawn timer\" rows are timed by "
              "`authd-loadgen exec` (posix_spawn to waitpid, stdin from a file), since hyperfine 1.15 cannot feed stdin.\n")

    # 2. load
    load = jsonl(raw / "load.jsonl")
    result["load"] = load

    def find(target, request, clients, mode):
        for r in load:
            if r["target"] == target and r["request"] == request and r["clients"] == clients and r["mode"] == mode:
                return r
        return None

    md.append("## 2. Daemon under concurrency (authd-loadgen, one thread per client)\n")
    md.append("| request | clients | authd new conn: req/s | p50 ms | p99 ms | authd persistent: req/s | p50 ms | p99 ms "
              "| oidc-agent new conn: req/s | p50 ms | p99 ms | authd/oidc-agent req/s | authd p99 / oidc-agent p99 |")
    md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for request in ["get", "status"]:
        for clients in [1, 8, 64, 256]:
            n, p, g = find("authd", request, clients, "new"), find("authd", request, clients, "persistent"), \
                find("oidc-agent", request, clients, "new")
            if not (n and p and g):
                continue
            errors = sum(x["errors"] for x in (n, p, g))
            md.append(f"| {request} | {clients} | {n['rps']:.0f} | {ms(n['p50_us'])} | {ms(n['p99_us'])} | {p['rps']:.0f} | "
                      f"{ms(p['p50_us'])} | {ms(p['p99_us'])} | {g['rps']:.0f} | {ms(g['p50_us'])} | {ms(g['p99_us'])} | "
                      f"{ratio(n['rps'], g['rps']):.2f} | {ratio(n['p99_us'], g['p99_us']):.2f} |"
                      + (f" ({errors} errors)" if errors else ""))
    md.append("")
    md.append("The floor: a C server that only accepts, reads a line and writes a fixed answer (bench/floor-server.c; "
              "no peer check, policy, audit or decryption), under the same load generator in the same run. "
              "No server can answer this load faster on this machine.\n")
    md.append("| clients | floor req/s | p99 ms | authd ÷ floor req/s | oidc-agent ÷ floor req/s | floor ÷ oidc-agent req/s |")
    md.append("|---|---|---|---|---|---|")
    for clients in [1, 8, 64, 256]:
        f, n, g = find("floor", "get", clients, "new"), find("authd", "get", clients, "new"), find("oidc-agent", "get", clients, "new")
        if not (f and n and g):
            continue
        md.append(f"| {clients} | {f['rps']:.0f} | {ms(f['p99_us'])} | {ratio(n['rps'], f['rps']):.2f} | "
                  f"{ratio(g['rps'], f['rps']):.2f} | {ratio(f['rps'], g['rps']):.2f} |")
    md.append("")
    n64, g64 = find("authd", "get", 64, "new"), find("oidc-agent", "get", 64, "new")
    if n64 and g64:
        p99r, rpsr = ratio(n64["p99_us"], g64["p99_us"]), ratio(n64["rps"], g64["rps"])
        result["load_targets_64"] = {"p99_ratio": p99r, "rps_ratio": rpsr}
        md.append(f"Targets at 64 clients (cached get, new connection per request, as oidc-agent's clients do): "
                  f"p99 ≤ ¼ of oidc-agent's: measured **{p99r:.2f}×** ({'met' if p99r <= 0.25 else 'NOT met'}); "
                  f"throughput ≥ 1.5×: measured **{rpsr:.2f}×** ({'met' if rpsr >= 1.5 else 'NOT met'}).\n")
    md.append("`get` is `{\"op\":\"get\",\"audience\":\"demo\"}` (cached) against oidc-agent's plain-JSON "
              "`{\"request\":\"access_token\",\"account\":…,\"min_valid_period\":60}`; `status` is `{\"op\":\"status\"}` against "
              "oidc-agent's `{\"request\":\"check\"}`. oidc-agent closes a connection after one answer, so it has no "
              "persistent-connection column. The load generator shares the 2 cores with the daemon.\n")

    # 3. head-of-line
    hol = jsonl(raw / "hol.jsonl")
    result["head_of_line"] = hol
    md.append("## 3. Head-of-line: cached gets while another audience's provider hangs\n")
    md.append("| condition | requests | p50 ms | p99 ms | max ms |")
    md.append("|---|---|---|---|---|")
    for r in hol:
        md.append(f"| {r['request']} | {r['requests']} | {ms(r['p50_us'])} | {ms(r['p99_us'])} | {ms(r['max_us'])} |")
    if len(hol) == 2:
        md.append(f"\np99 with the hang / without: **{ratio(hol[1]['p99_us'], hol[0]['p99_us']):.2f}×**; target: unchanged and "
                  f"< 2 ms ({'met' if hol[1]['p99_us'] < 2000 else 'NOT met'}).\n")

    # 4. footprint
    fp = json.loads((raw / "footprint.json").read_text())
    result["footprint"] = fp
    md.append("## 4. Footprint\n")
    md.append("| what | authd | oidc-agent | ratio |")
    md.append("|---|---|---|---|")
    md.append(f"| RSS after start (2 audiences, before any request) | {fp['authd_rss_start_kb'] / 1024:.1f} MiB | | |")
    md.append(f"| RSS idle, logged in, after the load above | {fp['authd_rss_serving_kb'] / 1024:.1f} MiB | "
              f"{fp['oidc_agent_rss_kb'] / 1024:.1f} MiB (1 account) | {ratio(fp['authd_rss_serving_kb'], fp['oidc_agent_rss_kb']):.2f} |")
    if "authd_rss_anon_kb" in fp:
        md.append(f"| of it anonymous (heap, stacks) | {fp['authd_rss_anon_kb'] / 1024:.1f} MiB | "
                  f"{fp['oidc_agent_rss_anon_kb'] / 1024:.1f} MiB | {ratio(fp['authd_rss_anon_kb'], fp['oidc_agent_rss_anon_kb']):.2f} |")
        md.append(f"| of it file-backed (program and library pages, shared) | {fp['authd_rss_file_kb'] / 1024:.1f} MiB | "
                  f"{fp['oidc_agent_rss_file_kb'] / 1024:.1f} MiB | {ratio(fp['authd_rss_file_kb'], fp['oidc_agent_rss_file_kb']):.2f} |")
    md.append(f"| RSS after start with {fp['audiences']} audiences | {fp['many_rss_start_kb'] / 1024:.1f} MiB | | "
              f"{ratio(fp['many_rss_start_kb'], fp['oidc_agent_rss_kb']):.2f} |")
    md.append(f"| RSS after logging in and serving {fp['audiences']} audiences ({fp['many_served']} served) | "
              f"{fp['many_rss_served_kb'] / 1024:.1f} MiB | | {ratio(fp['many_rss_served_kb'], fp['oidc_agent_rss_kb']):.2f} |")
    md.append(f"| context switches in {fp['idle_seconds']} s idle (all threads) | {fp['authd_idle_ctxt']} "
              f"({fp['authd_threads']} threads) | {fp['oidc_agent_idle_ctxt']} | |")
    md.append(f"| start to serving, {fp['audiences']} audiences, no store / with {fp['audiences']} stored logins "
              f"({fp['many_store_bytes']} bytes) | {fp['many_start_s'] * 1000:.0f} ms / {fp['many_restart_s'] * 1000:.0f} ms | | |")
    md.append(f"| {fp['audiences']} device flows against the devserver, 32 at a time | {fp['many_login_s']:.1f} s | | |")
    per_audience_kb = (fp["many_rss_served_kb"] - fp["many_rss_start_kb"]) / max(fp["many_served"], 1)
    result["footprint"]["rss_per_served_audience_kb"] = per_audience_kb
    md.append(f"| RSS per logged-in, served audience (served − start, / {fp['many_served']}) | {per_audience_kb:.1f} KiB | | |")
    if "many_rss_restored_kb" in fp:
        restored_kb = (fp["many_rss_restored_kb"] - fp["many_rss_start_kb"]) / max(fp["many_restored_served"], 1)
        result["footprint"]["rss_per_restored_audience_kb"] = restored_kb
        md.append(f"| the same after a restart on the {fp['audiences']}-login store, each served once "
                  f"({fp['many_restored_served']} served; restored − start, / {fp['many_restored_served']}) | {restored_kb:.1f} KiB | | |")
    md.append("")
    before_file, after_file = raw / "authd-idle-threads-before.txt", raw / "authd-idle-threads-after.txt"
    if before_file.exists() and after_file.exists():
        def threads(path):
            rows = {}
            for line in path.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 2:
                    rows[fields[0]] = (int(fields[1]), " ".join(fields[2:]))
            return rows
        before, after = threads(before_file), threads(after_file)
        woke = [(tid, name, count - before.get(tid, (0, ""))[0]) for tid, (count, name) in sorted(after.items())
                if count != before.get(tid, (None, ""))[0]]
        gone = sorted(set(before) - set(after))
        result["footprint"]["idle_threads_that_switched"] = [{"tid": t, "name": n, "switches": c} for t, n, c in woke]
        result["footprint"]["idle_threads_that_ended"] = gone
        if woke or gone:
            md.append("Threads that switched while idle: "
                      + (", ".join(f"{n} (tid {t}): {c}" for t, n, c in woke) or "none")
                      + (f"; threads that ended: {', '.join(gone)}" if gone else "") + ".\n")
    smaps = raw / "authd-smaps.txt"
    if smaps.exists():
        by_name, name = {}, None
        for line in smaps.read_text().splitlines():
            fields = line.split()
            if fields and "-" in fields[0] and not fields[0].endswith(":"):
                name = fields[5] if len(fields) > 5 else "[anonymous]"
            elif fields[:1] == ["Rss:"] and name is not None:
                by_name[name] = by_name.get(name, 0) + int(fields[1])
        top = sorted(by_name.items(), key=lambda item: -item[1])[:10]
        result["footprint"]["smaps_rss_kb_by_mapping"] = by_name
        md.append("Idle authd's resident memory by mapping (smaps, the largest ten):\n")
        md.append("| mapping | RSS KiB |")
        md.append("|---|---|")
        for mapping, kb in top:
            md.append(f"| {mapping.rsplit('/', 1)[-1]} | {kb} |")
        md.append(f"| (all {len(by_name)}) | {sum(by_name.values())} |")
        md.append("")
    rss_ratio = ratio(fp["many_rss_served_kb"], fp["oidc_agent_rss_kb"])
    md.append(f"Target: RSS within 2× oidc-agent's: idle {ratio(fp['authd_rss_serving_kb'], fp['oidc_agent_rss_kb']):.2f}×, "
              f"with {fp['audiences']} audiences {rss_ratio:.2f}×. Idle wake-ups target: none besides the watchdog "
              f"(no WATCHDOG_USEC here): {fp['authd_idle_ctxt']} context switches in {fp['idle_seconds']} s.\n")

    # 5. store
    store = jsonl(raw / "store.jsonl")
    result["store"] = store
    md.append("## 5. Token store (encrypted, written atomically with fsync)\n")
    md.append("| records | file bytes | save p50 ms | save p99 ms | load p50 ms | load p99 ms |")
    md.append("|---|---|---|---|---|---|")
    for r in store:
        md.append(f"| {r['records']} | {r['file_bytes']} | {r['save_p50_ms']:.2f} | {r['save_p99_ms']:.2f} | "
                  f"{r['load_p50_ms']:.2f} | {r['load_p99_ms']:.2f} |")
    md.append("")

    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
