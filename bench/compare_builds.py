"""Two gatedrill builds side by side: each optimisation is measured against
the build before it in the same run, rounds interleaved, because this machine is shared and its
absolute figures drift. For each build's `mock serve` (bench/providers.bench.toml): idle RSS with
the default fleet, plain chat completions (bench/chat.lua), and 900-byte prompts repeated and
unique (bench/prompt900.lua), with requests/s and server CPU per request from /proc; then
streams (examples/stream_probe). Medians over rounds, printed as a Markdown table.

Usage: python3 bench/compare_builds.py BUILD_A BUILD_B [--seconds S] [--rounds R] [--streams N]
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # importing peers.py must not leave bench/__pycache__ in the tree
from peers import Server, measure, proc_mem, run_streams, run_wrk  # noqa: E402


def idle_rss(binary):
    """RSS of `mock serve` with the default fleet (its tokenizer tables loaded), 2 s after start."""
    p = subprocess.Popen([binary, "mock", "serve"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        p.stdout.readline()
        time.sleep(2)
        return proc_mem(p.pid)["VmRSS"]
    finally:
        p.terminate()
        p.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs=2)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--streams", type=int, default=20000)
    ap.add_argument("--results", default="bench/results")
    args = ap.parse_args()
    runs = {"plain": ("bench/chat.lua", {}), "repeated 900 B": ("bench/prompt900.lua", {"UNIQUE": "0"}),
            "unique 900 B": ("bench/prompt900.lua", {"UNIQUE": "1"})}
    # Labelled A and B, so that the same build given twice (CI's smoke run) is still two servers.
    labels = {f"{tag}: {path}": path for tag, path in zip("AB", args.builds)}
    raw = {b: {"idle_rss_mib": [], **{k: [] for k in runs}, "streams": []} for b in labels}
    servers = {}
    try:
        for b, path in labels.items():
            s = Server(b, [path, "mock", "serve", "--config", "bench/providers.bench.toml"],
                       url_from=lambda line: json.loads(line)["url"])
            if not s.start(args.results):
                sys.exit(f"{b}: {s.error}")
            servers[b] = s
        for rnd in range(args.rounds):
            order = list(labels) if rnd % 2 == 0 else list(reversed(labels))
            for b in order:
                raw[b]["idle_rss_mib"].append(idle_rss(labels[b]))
                for name, (script, env) in runs.items():
                    raw[b][name].append(measure(servers[b], lambda: run_wrk(servers[b].base, args.seconds, 32,
                                                                           script, env), "requests"))
                raw[b]["streams"].append(measure(servers[b], lambda: run_streams(
                    "target/release/examples/stream_probe", servers[b].base, args.streams), "streams"))
    finally:
        for s in servers.values():
            s.stop()
    med = lambda rows, k: statistics.median(r[k] for r in rows)  # noqa: E731
    lines = [f"{args.rounds} interleaved round(s) of {args.seconds} s, wrk -t2 -c32 on the same cores; medians",
             "", "| | " + " | ".join(labels) + " | B / A |", "|---|---:|---:|---:|"]

    def row(label, vals, fmt):
        a, b = vals
        lines.append(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {b / a if a else float('nan'):.2f} |")

    row("idle RSS MiB (default fleet)", [statistics.median(raw[b]["idle_rss_mib"]) for b in labels], "{:.1f}")
    for name in runs:
        row(f"{name}: requests/s", [med(raw[b][name], "rps") for b in labels], "{:,.0f}")
        row(f"{name}: CPU µs/request", [med(raw[b][name], "cpu_us_per_unit") for b in labels], "{:.1f}")
    row("streams: events/s", [med(raw[b]["streams"], "events_per_s") for b in labels], "{:,.0f}")
    row("streams: CPU µs/stream", [med(raw[b]["streams"], "cpu_us_per_unit") for b in labels], "{:.1f}")
    row("streams: TTFB p50 ms", [med(raw[b]["streams"], "ttfb_p50_ms") for b in labels], "{:.3f}")
    for b in labels:
        u, r = med(raw[b]["unique 900 B"], "rps"), med(raw[b]["repeated 900 B"], "rps")
        lines.append(f"\n{b}: unique / repeated 900-byte prompts {u / r:.2f} (goal >= 0.70)")
    print("\n".join(lines))
    with open(f"{args.results}/compare_builds.json", "w") as f:
        json.dump(raw, f, indent=2)


if __name__ == "__main__":
    main()
