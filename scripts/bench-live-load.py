#!/usr/bin/env python3
"""Live backup at a contact centre's call rate (issue 14's measured setup).

    scripts/bench-live-load.py [--bin DIR] [--traffic-secs 60] [--label NAME]

Starts `rc-sandbox --calls 0 --live 6 --speed 30 --rate-window 1
--recording-lag 60` (about 180 calls a real minute, a third of them
transferred; Heavy limit at its default per 1 s window) and `callvault serve`
with a public URL on a fresh SQLite catalog, lets the traffic run, stops it
(`POST /sandbox/live {"callsPerMinute":0}`), and waits until every
conversation the sandbox ended is in the vault with every recording stored
and every multi-leg one stitched. Prints one JSON line:

- heavy_per_recording: `callvault_ratelimit_requests_total{group="heavy"}`
  from `/metrics` over the recordings stored (`callvault status --json`);
- drain_secs: from stopping the traffic until the vault matches;
- dead_jobs: from `callvault status --json`.

`--bin DIR` runs another build (e.g. a worktree of an older commit built
with `cargo build --release -p callvault -p rc-sandbox`) for a baseline in
the same session. Without it, this checkout is built in release mode.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


def callvault(bin_dir, data, *args):
    out = subprocess.run(
        [os.path.join(bin_dir, "callvault"), *args, "--data", data, "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def heavy_requests(metrics):
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith('callvault_ratelimit_requests_total{group="heavy"'):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", help="directory holding callvault and rc-sandbox")
    ap.add_argument("--traffic-secs", type=float, default=60)
    ap.add_argument("--drain-limit-secs", type=float, default=900)
    ap.add_argument("--label", default="this checkout")
    args = ap.parse_args()
    bin_dir = args.bin
    if not bin_dir:
        subprocess.run(
            ["cargo", "build", "--release", "--locked", "-p", "callvault", "-p", "rc-sandbox"],
            cwd=ROOT,
            check=True,
        )
        bin_dir = os.path.join(ROOT, "target", "release")

    work = tempfile.mkdtemp(prefix="bench-live-")
    data = os.path.join(work, "data")
    procs = []
    try:
        sandbox = subprocess.Popen(
            [
                os.path.join(bin_dir, "rc-sandbox"),
                "--calls", "0", "--live", "6", "--speed", "30",
                "--rate-window", "1", "--recording-lag", "60",
            ],
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(work, "sandbox.log"), "w"),
            text=True,
        )
        procs.append(sandbox)
        env = dict(os.environ)
        while "RC_JWT" not in env or env.get("_seen") != "1":
            line = sandbox.stdout.readline()
            if not line:
                sys.exit("rc-sandbox exited early")
            m = re.match(r"^(RC_[A-Z_]+)=(.*)$", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
                if m.group(1) == "RC_JWT":
                    env["_seen"] = "1"
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        env["RUST_LOG"] = "warn"
        serve = subprocess.Popen(
            [
                os.path.join(bin_dir, "callvault"), "serve", "--data", data,
                "--listen", f"127.0.0.1:{port}", "--public-url", public,
            ],
            env=env,
            stdout=open(os.path.join(work, "serve.log"), "w"),
            stderr=subprocess.STDOUT,
        )
        procs.append(serve)
        base = env["RC_SERVER_URL"]
        time.sleep(args.traffic_secs)
        http("POST", f"{base}/sandbox/live", {"callsPerMinute": 0})
        stopped = time.monotonic()

        drained = None
        while time.monotonic() - stopped < args.drain_limit_secs:
            time.sleep(2)
            truth = json.loads(http("GET", f"{base}/sandbox/truth?hashes=false"))
            ended = [c for c in truth["conversations"] if c.get("ended")]
            want = {r for c in ended for r in c.get("orderedRecordings", [])}
            multi = {c["sessions"][0]["telephonySessionId"] if isinstance(c["sessions"][0], dict)
                     else c["sessions"][0] for c in ended if len(c.get("orderedRecordings", [])) > 1}
            convs = callvault(bin_dir, data, "ls", "--limit", "100000")
            stored = {r["id"] for c in convs for r in c["recordings"] if r["state"] == "stored"}
            stitched = {c["id"] for c in convs if c["state"] == "stitched"}
            if want <= stored and multi <= stitched:
                drained = time.monotonic() - stopped
                break
        status = callvault(bin_dir, data, "status")
        metrics = http("GET", f"{public}/metrics")
        heavy = heavy_requests(metrics)
        recordings = status["recordings"].get("stored", 0)
        print(json.dumps({
            "label": args.label,
            "calls_ended": len(ended),
            "recordings_stored": recordings,
            "multi_leg": len(multi),
            "multi_leg_stitched": len(multi & stitched),
            "heavy_requests": heavy,
            "heavy_per_recording": round(heavy / recordings, 3) if recordings else None,
            "drain_secs": round(drained, 1) if drained is not None else None,
            "dead_jobs": status["jobs"].get("dead", 0),
            "work_dir": work,
        }))
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
