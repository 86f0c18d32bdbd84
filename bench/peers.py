"""The side-by-side benchmark: gatedrill's mock, a bare axum handler that
returns the mock's own bytes (examples/bare_axum.rs), and the PyPI peers llmock and fakellm, each
measured in interleaved rounds on this machine, so that the ratios between them hold even when the
machine is busy. bench/peers.sh builds the binaries and installs the peers; this file only runs
and reports.

Per server and round: plain chat completions with wrk at C connections (requests/s, p50, p99,
server CPU per request from /proc/<pid>/stat), then streamed completions with
examples/stream_probe (streams/s, events/s, time to first byte; not for bare axum, which only
returns the one JSON body). Resident memory idle (after start)
and loaded (after the last round), and the peak. Medians over rounds. Writes
bench/results/peers.md and bench/results/peers.json. Loopback only; every run is bounded in time
and count. A peer that cannot start or answer is reported as unavailable, never a crash; the
gatedrill mock or bare axum failing is an error (exit 1).
"""

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

CHAT = {"model": "gpt-5", "messages": [{"role": "user", "content": "hello there"}]}
KEY = "sk-bench-0001"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_chat(base, timeout=2.0):
    req = urllib.request.Request(
        base + "/v1/chat/completions", data=json.dumps(CHAT).encode(), method="POST",
        headers={"content-type": "application/json", "authorization": "Bearer " + KEY})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def proc_cpu(pid):
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_mem(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out


class Server:
    def __init__(self, name, argv, url_from=None, port=None, cwd=None):
        self.name, self.argv, self.url_from, self.port, self.cwd = name, argv, url_from, port, cwd
        self.proc, self.base, self.error = None, None, None

    def start(self, logdir):
        self.log = os.path.join(logdir, "peers-" + re.sub(r"[^A-Za-z0-9.]+", "_", self.name) + ".log")
        log = open(self.log, "w")
        try:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE if self.url_from else log,
                                         stderr=log, stdin=subprocess.DEVNULL, cwd=self.cwd, text=True)
        except OSError as e:
            self.error = f"cannot start: {e}"
            return False
        if self.url_from:
            line = self.proc.stdout.readline()
            self.base = self.url_from(line) if line else None
        else:
            self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.base:
            if self.proc.poll() is not None:
                break
            try:
                status, _ = post_chat(self.base)
                if status == 200:
                    time.sleep(1)
                    return True
            except OSError:
                time.sleep(0.2)
        self.error = f"did not answer a chat completion with 200 within 30 s (log: {self.log})"
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def run_wrk(base, secs, conns, script="bench/chat.lua", env=None):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{conns}", f"-d{secs}s", "--latency", "-s", script,
         base + "/v1/chat/completions"], capture_output=True, text=True, timeout=secs + 60,
        env=dict(os.environ, **(env or {}))).stdout

    def ms(v):
        n, unit = re.match(r"([\d.]+)(\w+)", v).groups()
        return float(n) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = sum(int(m) for m in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"requests": total, "errors": bad + (sum(map(int, sock.groups())) if sock else 0),
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
            "p99_ms": ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))}


def run_streams(probe, base, streams):
    out = subprocess.run([probe, base, str(streams), "16", "gpt-5", KEY], capture_output=True, text=True,
                         timeout=300).stdout
    kv = dict(p.split("=", 1) for p in out.split())
    return {"streams": int(kv["streams"]) - int(kv["failed"]), "failed": int(kv["failed"]),
            "streams_per_s": float(kv["streams_per_s"]), "events_per_s": float(kv["events_per_s"]),
            "ttfb_p50_ms": float(kv["ttfb_p50_ms"]), "ttfb_p99_ms": float(kv["ttfb_p99_ms"])}


def measure(server, fn, count_key):
    before = proc_cpu(server.proc.pid)
    r = fn()
    r["cpu_us_per_unit"] = (proc_cpu(server.proc.pid) - before) * 1e6 / max(r[count_key], 1)
    return r


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def servers_for(args, answer):
    mock = Server("gatedrill mock", ["target/release/gatedrill", "mock", "serve", "--config",
                                     "bench/providers.bench.toml"], url_from=lambda l: json.loads(l)["url"])
    bare = Server("bare axum", ["target/release/examples/bare_axum", answer], url_from=lambda l: l.strip())
    out = [mock, bare]
    bin_dir = os.path.join(args.venv, "bin")
    for name, argv in [
        ("llmock 0.2.2", ["llmock", "serve", "--host", "127.0.0.1", "--log-level", "warning", "--port"]),
        ("fakellm 0.3.5", ["fakellm", "serve", "--host", "127.0.0.1", "--config",
                           os.path.abspath("bench/fakellm.yaml"), "--port"]),
    ]:
        exe = os.path.abspath(os.path.join(bin_dir, argv[0]))
        port = free_port()
        s = Server(name, [exe] + argv[1:] + [str(port)], port=port, cwd=args.results)
        if not os.access(exe, os.X_OK):
            s.error = f"not installed ({exe} missing: see bench/peers.sh output)"
        out.append(s)
    return out


def median_of(rounds, key):
    vals = [r[key] for r in rounds if r is not None and r.get(key) is not None]
    return statistics.median(vals) if vals else None


def render(report):
    cols = report["servers"]
    med = report["medians"]

    def cell(name, key, fmt):
        v = med.get(name, {}).get(key)
        return fmt.format(v) if v is not None else "-"

    rows = [("requests/s", "rps", "{:,.0f}"), ("p50 ms", "p50_ms", "{:.3f}"), ("p99 ms", "p99_ms", "{:.3f}"),
            ("server CPU per request µs", "cpu_us_per_request", "{:,.1f}"), ("errors", "errors", "{:.0f}"),
            ("streams/s (16 at once; events per stream differ by server)", "streams_per_s", "{:,.0f}"),
            ("stream events/s", "events_per_s", "{:,.0f}"), ("stream TTFB p50 ms", "ttfb_p50_ms", "{:.3f}"),
            ("server CPU per stream µs", "cpu_us_per_stream", "{:,.1f}"),
            ("RSS idle MiB", "rss_idle_mib", "{:.1f}"), ("RSS loaded MiB", "rss_loaded_mib", "{:.1f}"),
            ("RSS peak MiB", "rss_peak_mib", "{:.1f}")]
    lines = [f"Measured {report['date']} on {report['machine']}; load average at start {report['loadavg']}.",
             f"`{report['command']}`: {report['rounds']} interleaved round(s) of {report['seconds']} s, wrk -t2 "
             f"-c{report['connections']} on the same cores as the servers; medians over rounds.", "",
             "| c=%d | %s |" % (report["connections"], " | ".join(cols)), "|---|" + "---:|" * len(cols)]
    lines += ["| %s | %s |" % (label, " | ".join(cell(c, k, f) for c in cols)) for label, k, f in rows]
    for name, why in report["unavailable"].items():
        lines.append(f"\n{name}: unavailable, {why}")
    r = report.get("ratios") or {}
    if r:
        lines.append("")
        lines.append(f"gatedrill mock / bare axum: requests/s {r['rps']:.2f} (goal >= 0.80), "
                     f"CPU per request {r['cpu']:.2f}x (goal <= 1.4x)")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--streams", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--venv", default="target/bench-venv")
    ap.add_argument("--results", default="bench/results")
    ap.add_argument("--command", default="bench/peers.sh")
    args = ap.parse_args()
    os.makedirs(args.results, exist_ok=True)
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
              "loadavg": " ".join(open("/proc/loadavg").read().split()[:3]), "command": args.command,
              "seconds": args.seconds, "rounds": args.rounds, "connections": args.connections,
              "servers": [], "unavailable": {}, "rounds_raw": {}, "medians": {}}
    started = []
    try:
        servers = servers_for(args, os.path.join(args.results, "peers-answer.json"))
        mock, bare = servers[0], servers[1]
        if not mock.start(args.results):
            sys.exit(f"gatedrill mock: {mock.error}")
        started.append(mock)
        with open(os.path.join(args.results, "peers-answer.json"), "wb") as f:
            f.write(post_chat(mock.base)[1])
        live = [mock]
        for s in servers[1:]:
            if s.error is None and s.start(args.results):
                started.append(s)
                live.append(s)
            else:
                started.append(s)
                if s is bare:
                    sys.exit(f"bare axum: {s.error}")
                report["unavailable"][s.name] = s.error
        idle = {s.name: proc_mem(s.proc.pid)["VmRSS"] for s in live}
        raw = {s.name: [] for s in live}
        probe = "target/release/examples/stream_probe"
        for rnd in range(args.rounds):
            order = live[rnd % len(live):] + live[:rnd % len(live)]
            for s in order:
                entry = {}
                try:
                    entry.update(measure(s, lambda: run_wrk(s.base, args.seconds, args.connections), "requests"))
                    entry["cpu_us_per_request"] = entry.pop("cpu_us_per_unit")
                    if s is not bare:  # it answers every request with the same JSON body, never a stream
                        entry.update(measure(s, lambda: run_streams(probe, s.base, args.streams), "streams"))
                        entry["cpu_us_per_stream"] = entry.pop("cpu_us_per_unit")
                except (subprocess.SubprocessError, AttributeError, KeyError, ValueError, OSError) as e:
                    entry["failure"] = f"{type(e).__name__}: {e}"
                    print(f"{s.name}, round {rnd + 1}: {entry['failure']}", file=sys.stderr)
                raw[s.name].append(entry)
                print(f"round {rnd + 1} {s.name}: {json.dumps(entry)}", file=sys.stderr)
        for s in live:
            mem = proc_mem(s.proc.pid)
            rounds = raw[s.name]
            med = {k: median_of(rounds, k) for k in ["rps", "p50_ms", "p99_ms", "cpu_us_per_request", "errors",
                                                     "streams_per_s", "events_per_s", "ttfb_p50_ms",
                                                     "cpu_us_per_stream"]}
            med.update(rss_idle_mib=idle[s.name], rss_loaded_mib=mem["VmRSS"], rss_peak_mib=mem["VmHWM"])
            report["medians"][s.name] = med
            report["servers"].append(s.name)
        report["rounds_raw"] = raw
        m, b = report["medians"]["gatedrill mock"], report["medians"]["bare axum"]
        if m["rps"] and b["rps"] and m["cpu_us_per_request"] and b["cpu_us_per_request"]:
            report["ratios"] = {"rps": m["rps"] / b["rps"], "cpu": m["cpu_us_per_request"] / b["cpu_us_per_request"]}
    finally:
        for s in started:
            s.stop()
    md = render(report)
    with open(os.path.join(args.results, "peers.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(args.results, "peers.md"), "w") as f:
        f.write(md)
    print(md)
    ours = [e["failure"] for name in ("gatedrill mock", "bare axum") for e in report["rounds_raw"].get(name, [])
            if "failure" in e]
    if ours:
        sys.exit(f"gatedrill's own servers failed a run: {ours}")


if __name__ == "__main__":
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (bench/peers.sh installs it)")
    main()
