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
- drain_secs: from stopping the traffic until the vault matches (every
  recording stored, backfill included; every live multi-leg call stitched);
- dead_jobs: from `callvault status --json`;
- stitch_p50_rc_secs / stitch_p95_rc_secs: "call end -> stitched" for the
  multi-leg conversations, in RingCentral's (the sandbox's) seconds beyond
  the recording lag. The call's end is the sandbox's own; the moment it was
  stitched is the catalog's `updated_at` of the stitched row (local time),
  carried onto the sandbox's clock by its known speed from one anchor read
  off `/sandbox/truth`'s `now`.

`--backfill-calls N` adds N older calls (about 1.3 recordings each) to the
sandbox's history, within the day `serve`'s first safety-net sync backs up,
so the live traffic competes with a backfill; the run then also waits for
the backfill to complete and reports `backfill_recordings` and
`backfill_multi_unstitched` (backfill calls of several recordings not held
by one stitched conversation).

A call counts as stitched when all its recordings are in one stitched
catalog conversation, whatever that conversation is named after.

`--bin DIR` runs another build (e.g. a worktree of an older commit built
with `cargo build --release -p callvault -p rc-sandbox`) for a baseline in
the same session. Without it, this checkout is built in release mode.
"""

import argparse
import datetime
import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEED = 30
RECORDING_LAG = 60


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


def rc_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def first_session(conv):
    s = conv["sessions"][0]
    return s["telephonySessionId"] if isinstance(s, dict) else s


def stitched_conversation(data):
    """Recording id -> the catalog conversation holding it, for those whose
    conversation is stitched. A call counts as stitched when all its
    recordings map to one stitched conversation: the catalog names a
    conversation after the chain's first session *with records*, which need
    not be the sandbox's first session (an unrecorded first leg)."""
    db = sqlite3.connect(f"file:{os.path.join(data, 'catalog.sqlite')}?mode=ro", uri=True)
    try:
        return dict(db.execute(
            "SELECT r.id, cs.conversation_id FROM recordings r"
            " JOIN conversation_sessions cs ON cs.telephony_session_id = r.telephony_session_id"
            " JOIN conversations c ON c.id = cs.conversation_id WHERE c.state = 'stitched'"))
    finally:
        db.close()


def stitched_as(conv, by_recording):
    """The stitched catalog conversation holding every recording of the
    truth conversation `conv`, or None."""
    ids = {by_recording.get(r) for r in conv.get("orderedRecordings", [])}
    return ids.pop() if len(ids) == 1 and None not in ids else None


def stitch_latencies(base, data, multi, by_recording):
    """Seconds of sandbox time from each multi-leg call's end (plus the
    recording lag) to the moment the catalog stored its stitched file."""
    before = time.time()
    now_rc = rc_time(json.loads(http("GET", f"{base}/sandbox/truth?hashes=false"))["now"])
    local_anchor = (before + time.time()) / 2
    db = sqlite3.connect(f"file:{os.path.join(data, 'catalog.sqlite')}?mode=ro", uri=True)
    rows = dict(db.execute("SELECT id, updated_at FROM conversations WHERE state = 'stitched'"))
    db.close()
    out = []
    for conv in multi.values():
        conv_id = stitched_as(conv, by_recording)
        if conv_id not in rows:
            continue
        stitched_rc = now_rc + (rows[conv_id] / 1000 - local_anchor) * SPEED
        out.append(stitched_rc - rc_time(conv["end"]) - RECORDING_LAG)
    return out


def stored_recordings(data):
    db = sqlite3.connect(f"file:{os.path.join(data, 'catalog.sqlite')}?mode=ro", uri=True)
    try:
        return {r[0] for r in db.execute("SELECT id FROM recordings WHERE state = 'stored'")}
    finally:
        db.close()


def percentile(values, p):
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1], 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", help="directory holding callvault and rc-sandbox")
    ap.add_argument("--traffic-secs", type=float, default=60)
    ap.add_argument("--drain-limit-secs", type=float, default=900)
    ap.add_argument("--label", default="this checkout")
    ap.add_argument("--backfill-calls", type=int, default=0)
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
                "--calls", str(args.backfill_calls), "--days", "1",
                "--live", "6", "--speed", str(SPEED),
                "--rate-window", "1", "--recording-lag", str(RECORDING_LAG),
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
        truth = json.loads(http("GET", f"{base}/sandbox/truth?hashes=false"))
        live_from = rc_time(truth["now"])
        backfill_recordings = sum(
            len(c.get("orderedRecordings", [])) for c in truth["conversations"] if c.get("ended"))
        time.sleep(args.traffic_secs)
        http("POST", f"{base}/sandbox/live", {"callsPerMinute": 0})
        stopped = time.monotonic()

        drained = None
        while time.monotonic() - stopped < args.drain_limit_secs:
            time.sleep(2)
            truth = json.loads(http("GET", f"{base}/sandbox/truth?hashes=false"))
            ended = [c for c in truth["conversations"] if c.get("ended")]
            want = {r for c in ended for r in c.get("orderedRecordings", [])}
            # Live multi-leg calls must be stitched; the backfill's are
            # counted apart (`backfill_multi_unstitched`).
            multi = {first_session(c): c for c in ended
                     if len(c.get("orderedRecordings", [])) > 1 and rc_time(c["start"]) >= live_from}
            backfill_multi = {first_session(c): c for c in ended
                              if len(c.get("orderedRecordings", [])) > 1 and rc_time(c["start"]) < live_from}
            # From the catalog itself: `ls` lists recordings by conversation,
            # and would miss one whose session no conversation holds.
            stored = stored_recordings(data)
            by_recording = stitched_conversation(data)
            stitched = {k for k, c in {**multi, **backfill_multi}.items() if stitched_as(c, by_recording)}
            if want <= stored and set(multi) <= stitched:
                drained = time.monotonic() - stopped
                break
        status = callvault(bin_dir, data, "status")
        metrics = http("GET", f"{public}/metrics")
        with open(os.path.join(work, "metrics.txt"), "w") as f:
            f.write(metrics)
        heavy = heavy_requests(metrics)
        recordings = status["recordings"].get("stored", 0)
        latencies = stitch_latencies(base, data, multi, by_recording)
        print(json.dumps({
            "label": args.label,
            "calls_ended": len(ended),
            "backfill_recordings": backfill_recordings,
            "recordings_stored": recordings,
            "multi_leg": len(multi),
            "multi_leg_stitched": len(set(multi) & stitched),
            "backfill_multi_unstitched": len(set(backfill_multi) - stitched),
            "heavy_requests": heavy,
            "heavy_per_recording": round(heavy / recordings, 3) if recordings else None,
            "drain_secs": round(drained, 1) if drained is not None else None,
            "dead_jobs": status["jobs"].get("dead", 0),
            "stitch_p50_rc_secs": percentile(latencies, 50),
            "stitch_p95_rc_secs": percentile(latencies, 95),
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
