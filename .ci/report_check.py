"""Checks report.html as a person's browser shows it: renders it in headless Chromium, reads the
DOM Chromium built, and requires, for every scenario trace in the run directory, its verdict in
its heading, every failed check (name and the value seen), every failed gate with its verdict,
and every failure mode. The expectations come from the traces, not from the report's writer.

usage: report_check.py CHROMIUM RUN_DIR [SCREENSHOT.png]
"""

import html.parser
import json
import pathlib
import subprocess
import sys


class Dom(html.parser.HTMLParser):
    """Text per element id'd heading section, and each table row's cells."""

    def __init__(self):
        super().__init__()
        self.section = None
        self.text = {}
        self.heading = {}
        self.in_h2 = False
        self.rows = {}
        self.row = None
        self.cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h2" and "id" in a:
            self.section, self.in_h2 = a["id"], True
            self.text.setdefault(self.section, [])
            self.heading[self.section] = ""
            self.rows.setdefault(self.section, [])
        elif tag == "tr" and self.section:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "h2":
            self.in_h2 = False
        elif tag in ("td", "th") and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows[self.section].append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.section is None:
            return
        self.text[self.section].append(data)
        if self.in_h2:
            self.heading[self.section] += data
        if self.cell is not None:
            self.cell += data


def verdict(trace):
    if trace.get("skipped"):
        return "SKIP"
    return "PASS" if trace["passed"] else "FAIL"


def main():
    chromium, run = sys.argv[1], pathlib.Path(sys.argv[2])
    report = (run / "report.html").resolve()
    args = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000"]
    dom = subprocess.run(
        args + ["--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    if len(sys.argv) > 3:
        subprocess.run(
            args + ["--window-size=1100,2400", "--hide-scrollbars", f"--screenshot={sys.argv[3]}", report.as_uri()],
            capture_output=True, timeout=120, check=True,
        )
    parsed = Dom()
    parsed.feed(dom)
    traces = sorted(run.glob("*/trace.json"))
    if not traces:
        sys.exit(f"{run}: no scenario traces")
    problems = []
    for path in traces:
        t = json.loads(path.read_text())
        name = t["name"]
        if name not in parsed.heading:
            problems.append(f"{name}: no section in the rendered report")
            continue
        text = " ".join(" ".join(parsed.text[name]).split())
        if verdict(t) not in parsed.heading[name]:
            problems.append(f"{name}: heading {parsed.heading[name]!r} lacks the verdict {verdict(t)}")
        for step in t["steps"]:
            for c in step["checks"]:
                if not c["passed"] and (c["name"] not in text or " ".join(c["actual"].split()) not in text):
                    problems.append(f"{name}: failed check {c['name']!r} (got {c['actual']!r}) not shown")
        for g in t["gates"]:
            shown = [r for r in parsed.rows[name] if r and r[0] == g["gate"]]
            if not shown or g["verdict"] not in shown[0]:
                problems.append(f"{name}: gate {g['gate']!r} with verdict {g['verdict']} not in the gate table")
        for mode in t["failure_modes"]:
            if mode not in text:
                problems.append(f"{name}: failure mode {mode} not shown")
    if problems:
        sys.exit("report.html as Chromium renders it:\n  " + "\n  ".join(problems))
    print(f"report.html: {len(traces)} scenario(s), each verdict and failure reason in the rendered DOM")


if __name__ == "__main__":
    main()
