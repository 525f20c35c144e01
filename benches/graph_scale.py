"""The graph sync at a large distributor's scale (run by hand: `benches/graph_scale.sh`).

Generates a world of RESELLERS resellers with CUSTOMERS customers each (not committed), serves
it with the partner API simulator at the vendor's 10 requests/s per API, and starts three
release gateways on one fresh PostgreSQL database and one Redis. It measures:
  - time to the first useful answer (a reseller's customer served by a gateway),
  - time to the first sync's end (the syncer's /readyz says plain "ready"),
  - the followers' time to load the stored graph,
  - the vendor calls the sync spends per minute afterwards (incremental syncs), by operation,
  - each gateway's resident memory,
and prints them as the lines RESULTS.md records.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESELLERS = int(os.environ.get("TG_SCALE_RESELLERS", "5000"))
CUSTOMERS = int(os.environ.get("TG_SCALE_CUSTOMERS", "100"))
STEADY_SECS = int(os.environ.get("TG_SCALE_STEADY_SECS", "240"))
PG = os.environ.get("TG_SCALE_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("TG_SCALE_REDIS", "redis://127.0.0.1:6379")
BIN = os.path.join(ROOT, "target", "release")
PY = os.path.join(ROOT, ".venv", "bin", "python")
T0 = time.monotonic()


def say(*a):
    print(f"[{time.monotonic() - T0:8.1f} s]", *a, flush=True)


def world(path):
    with open(os.path.join(ROOT, "tests", "fixtures", "world.json")) as f:
        w = json.load(f)
    at = "2026-01-01T00:00:00Z"
    for i in range(RESELLERS):
        rid = f"r{i:05}"
        w["partners"].append({
            "id": rid, "name": f"Reseller {i}", "tier": "cloud_reseller", "parent": "dist-1",
            "access_key": f"RSCALE{i:013}", "secret_key": f"{rid}-secret",
            "associated_on": at,
        })
        for j in range(CUSTOMERS):
            w["customers"].append({
                "id": f"c{i:05}-{j:03}", "name": f"Customer {i}-{j}", "partner": rid,
                "association_type": 2, "associated_on": at,
            })
    with open(path, "w") as f:
        json.dump(w, f)


def start(cmd, log):
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)


def addr_of(proc, pattern):
    for line in proc.stdout:
        m = re.search(pattern, line)
        if m:
            return m.groups()
    raise SystemExit(f"{proc.args}: exited before saying {pattern}")


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def metrics(admin):
    _, text = get(f"http://{admin}/metrics")
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def config(d, name, sim, db):
    path = os.path.join(d, f"{name}.toml")
    with open(os.path.join(ROOT, "examples", "dev.toml")) as f:
        text = f.read()
    text = text.replace('"127.0.0.1:8080"', '"127.0.0.1:0"').replace('"127.0.0.1:9090"', '"127.0.0.1:0"')
    text = text.replace('log_format = "pretty"', 'log_format = "json"')
    text = text.replace('url = "http://127.0.0.1:18080"', f'url = "http://{sim}"')
    text = re.sub(r'url = "sqlite://[^"]*"', f'url = "{db}"', text)
    text = text.replace("../.tiergate-dev/audit-checkpoints.jsonl", f"{name}-checkpoints.jsonl")
    text += (
        '\n[[resellers]]\npartner_id = "r00000"\n'
        f'\n[ratelimit]\nredis = "{REDIS}"\nprefix = "tg-scale-{os.getpid()}"\n'
        '[ratelimit.upstream]\nrate = "10/s"\n'
        # Incremental syncs from a minute after the first, so the steady state is measured.
        '[graph]\nsync_interval = "1m"\n'
    )
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "tiergate-gateway",
                    "-p", "tiergate-tests", "--bin", "tiergate", "--bin", "tiergate-sim"],
                   cwd=ROOT, check=True)
    d = tempfile.mkdtemp(prefix="tg-scale-")
    fixture = os.path.join(d, "world.json")
    world(fixture)
    say(f"world: {RESELLERS} resellers, {RESELLERS * CUSTOMERS} customers "
        f"({os.path.getsize(fixture) / 2**20:.0f} MiB of JSON)")
    sim = start([os.path.join(BIN, "tiergate-sim"), "--fixture", fixture], os.path.join(d, "sim.log"))
    (sim_addr,) = addr_of(sim, r"listening on (\S+)")
    say("simulator at", sim_addr, f"({rss_mib(sim.pid):.0f} MiB)")
    dbname = f"tg_scale_{os.getpid()}"
    subprocess.run(["psql", PG + "/postgres", "-qc", f"CREATE DATABASE {dbname}"], check=True)
    db = f"{PG}/{dbname}"
    procs = []
    try:
        gws = []
        t_start = time.monotonic()
        for name in ("a", "b", "c"):
            cfg = config(d, name, sim_addr, db)
            p = start([os.path.join(BIN, "tiergate"), "serve", "--config", cfg], os.path.join(d, f"{name}.log"))
            procs.append(p)
            gws.append((name, p, cfg))
            if name == "a":
                # The first one leads: the others start once it holds the lease.
                time.sleep(3)
        admins, partners = {}, {}
        for name, p, _ in gws:
            partners[name], admins[name] = addr_of(p, r"tiergate listening on (\S+) admin (\S+)")
        say("admin listeners", admins)
        out = subprocess.run([os.path.join(BIN, "tiergate"), "credentials", "--config", gws[0][2],
                              "issue", "--partner", "r00000"], capture_output=True, text=True, check=True).stdout
        ak = re.search(r"access key:\s*(\S+)", out).group(1)
        sk = re.search(r"secret key:\s*(\S+)", out).group(1)
        syncer = None
        ready, whole, answered = {}, {}, {}

        def answers(name):
            call = [{"endpoint": f"http://{partners[name]}", "ak": ak, "sk": sk,
                     "domain_id": "r00000", "request": "ListSubCustomersRequest",
                     "body_class": "QuerySubCustomerListReq",
                     "body": {"customer_id": "c00000-000", "offset": 0, "limit": 10}}]
            r = subprocess.run([PY, os.path.join(ROOT, "tests", "sdk", "call.py")],
                               input=json.dumps(call), capture_output=True, text=True)
            return bool(json.loads(r.stdout or "[{}]")[0].get("ok"))

        last_report = 0
        while len(whole) < len(gws):
            now = time.monotonic() - t_start
            for name, _, _ in gws:
                status, body = get(f"http://{admins[name]}/readyz")
                if metrics(admins[name]).get("tiergate_graph_syncer", 0) == 1:
                    syncer = name
                if status == 200 and name not in ready:
                    ready[name] = now
                    say(f"{name}: ready ({body.strip()})")
                if status == 200 and name not in answered and answers(name):
                    answered[name] = time.monotonic() - t_start
                    say(f"{name}: first useful answer (r00000's customer)")
                if body == "ready\n" and name not in whole:
                    whole[name] = now
                    say(f"{name}: whole graph")
            if now - last_report >= 60 and syncer:
                last_report = now
                m = metrics(admins[syncer])
                say("progress", m.get("tiergate_graph_sync_owners_listed"), "of",
                    m.get("tiergate_graph_sync_owners"),
                    {k: v for k, v in m.items() if k.startswith("tiergate_graph_sync_calls_total")})
            time.sleep(1)
        rss = {name: rss_mib(p.pid) for name, p, _ in gws}
        say("resident memory (MiB)", {k: round(v) for k, v in rss.items()})
        before = metrics(admins[syncer])
        time.sleep(STEADY_SECS)
        after = metrics(admins[syncer])
        per_min = {k.split('"')[1]: (after[k] - before.get(k, 0)) * 60 / STEADY_SECS
                   for k in after if k.startswith("tiergate_graph_sync_calls_total{")}
        say("steady-state sync calls per minute", per_min)
        say("incremental syncs done", {k: v for k, v in after.items() if "graph_syncs_total" in k})
        rss = {name: rss_mib(p.pid) for name, p, _ in gws}
        print(json.dumps({
            "resellers": RESELLERS, "customers": RESELLERS * CUSTOMERS, "syncer": syncer,
            "ready_s": ready, "first_answer_s": answered, "whole_graph_s": whole,
            "sync_calls_per_min": per_min, "rss_mib": {k: round(v) for k, v in rss.items()},
        }, indent=1))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        sim.terminate()
        subprocess.run(["psql", PG + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {dbname}"])


if __name__ == "__main__":
    sys.exit(main())
