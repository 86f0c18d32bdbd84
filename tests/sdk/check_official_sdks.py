"""The mock fleet against the official provider SDKs (openai, anthropic from PyPI).

Run by .ci/run after the Rust tests: the mocks must be understood by the clients real
gateways use, not only by this project's own tests. Then the reference gateway's
OpenAI-compatible endpoint in front of the mocks, through the OpenAI SDK (gateway_checks.py). Starts `gatedrill mock serve`, drives each
SDK through healthy answers, streams and the faults whose handling SDKs branch on, and reads
the providers' journals to check what the SDK actually did (retries, waits).

Usage: python check_official_sdks.py PATH_TO_GATEDRILL_BINARY
"""

import json
import subprocess
import sys
import time
import urllib.request
import warnings

import anthropic
import openai

import agent_checks
import gateway_checks

OPENAI_KEY = "sk-gatedrill-openai-0001"
ANTHROPIC_KEY = "sk-ant-gatedrill-0001"
DEEPSEEK_KEY = "sk-gatedrill-deepseek-0001"
MSG = [{"role": "user", "content": "health probe: summarize fallback readiness"}]
checks = 0
# The SDK warns about model ids it considers deprecated; the mocks' ids are configuration.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


def control(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read() or b"null")


def rule(base, rule_):
    control(base, "DELETE", "/_gatedrill/faults")
    control(base, "POST", "/_gatedrill/faults", {"rules": [rule_]})


def attempts(base):
    return control(base, "GET", "/_gatedrill/journal")["records"]


def openai_checks(url):
    base = url + "/v1"
    c = openai.OpenAI(base_url=base, api_key=OPENAI_KEY, max_retries=0)
    r = c.chat.completions.create(model="gpt-5", messages=MSG, max_tokens=5)
    check(r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 5, "openai max_tokens cut")
    check(r.usage.total_tokens == r.usage.prompt_tokens + 5, "openai usage adds up")
    chunks = list(c.chat.completions.create(model="gpt-5", messages=MSG, stream=True, stream_options={"include_usage": True}))
    check(chunks[-1].usage is not None and chunks[-1].choices == [], "openai usage chunk last")
    check(any(ch.choices and ch.choices[0].finish_reason == "stop" for ch in chunks), "openai finish chunk")
    check(len(c.models.list().data) >= 1, "openai models list")

    try:
        openai.OpenAI(base_url=base, api_key="sk-wrong", max_retries=0).chat.completions.create(model="gpt-5", messages=MSG)
        check(False, "wrong key accepted")
    except openai.AuthenticationError as e:
        check(e.code == "invalid_api_key", "openai 401 code")

    # A 429 with retry-after-ms: the SDK waits that long and retries once, then succeeds.
    rule(url, {"id": "r", "fault": {"kind": "rate_limit", "retry_after": "300ms"}, "times": 1})
    before = len(attempts(url))
    retrying = openai.OpenAI(base_url=base, api_key=OPENAI_KEY, max_retries=2)
    check(retrying.chat.completions.create(model="gpt-5", messages=MSG).choices[0].message.content, "retried to success")
    rec = attempts(url)[before:]
    check(len(rec) == 2 and rec[0]["status"] == 429 and rec[1]["status"] == 200, "429 then 200")
    check(rec[1]["gap_since_same_body_ms"] >= 290, "SDK honoured retry-after-ms: %s" % rec[1]["gap_since_same_body_ms"])

    # insufficient_quota is a 429 too; with x-should-retry: false the SDK must not retry.
    rule(url, {"id": "q", "fault": {"kind": "quota_exhausted"}, "should_retry": False})
    before = len(attempts(url))
    try:
        retrying.chat.completions.create(model="gpt-5", messages=MSG)
        check(False, "quota accepted")
    except openai.RateLimitError as e:
        check(e.code == "insufficient_quota", "quota code")
    check(len(attempts(url)) - before == 1, "x-should-retry: false obeyed")

    rule(url, {"id": "o", "fault": {"kind": "context_overflow"}, "times": 1})
    try:
        c.chat.completions.create(model="gpt-5", messages=MSG)
        check(False, "overflow accepted")
    except openai.BadRequestError as e:
        check(e.code == "context_length_exceeded", "overflow code")

    # A cut stream surfaces as an error while iterating, never as a clean end.
    rule(url, {"id": "cut", "fault": {"kind": "stream_cut", "after_events": 3}, "times": 1})
    got = []
    try:
        for ch in c.chat.completions.create(model="gpt-5", messages=MSG, stream=True):
            got.append(ch)
        check(False, "cut stream ended cleanly")
    except Exception as e:  # httpx.RemoteProtocolError or openai.APIError, depending on version
        check(len(got) == 3, "3 chunks before the cut, got %d (%r)" % (len(got), e))

    # An in-band error event after HTTP 200 is raised by the SDK.
    rule(url, {"id": "ev", "fault": {"kind": "stream_error_event", "after_events": 2}, "times": 1})
    try:
        list(c.chat.completions.create(model="gpt-5", messages=MSG, stream=True))
        check(False, "in-band error ignored")
    except openai.APIError:
        check(True, "in-band error raised")

    rule(url, {"id": "reset", "fault": {"kind": "outage", "mode": "reset"}, "times": 1})
    try:
        c.chat.completions.create(model="gpt-5", messages=MSG)
        check(False, "reset accepted")
    except openai.APIConnectionError:
        check(True, "reset is a connection error")
    control(url, "DELETE", "/_gatedrill/faults")


def anthropic_checks(url):
    c = anthropic.Anthropic(base_url=url, api_key=ANTHROPIC_KEY, max_retries=0)
    m = c.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MSG)
    check(m.content[0].type == "text" and m.content[0].text and m.stop_reason == "end_turn", "anthropic message")
    check(m.usage.input_tokens > 0 and m.usage.output_tokens > 0, "anthropic usage")
    with c.messages.stream(model="claude-sonnet-4-5", max_tokens=3, messages=MSG) as s:
        text = s.get_final_text()
        final = s.get_final_message()
    check(text and final.stop_reason == "max_tokens" and final.usage.output_tokens == 3, "anthropic stream")

    try:
        anthropic.Anthropic(base_url=url, api_key="sk-ant-wrong", max_retries=0).messages.create(
            model="claude-sonnet-4-5", max_tokens=8, messages=MSG)
        check(False, "wrong key accepted")
    except anthropic.AuthenticationError as e:
        check(e.status_code == 401, "anthropic 401")

    rule(url, {"id": "ov", "fault": {"kind": "overloaded"}, "times": 1})
    try:
        c.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=MSG)
        check(False, "529 accepted")
    except anthropic.APIStatusError as e:
        check(e.status_code == 529 and e.body["error"]["type"] == "overloaded_error", "anthropic 529")

    rule(url, {"id": "ev", "fault": {"kind": "stream_error_event", "after_events": 4}, "times": 1})
    try:
        with c.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=MSG) as s:
            s.get_final_text()
        check(False, "in-band error ignored")
    except anthropic.APIError:
        check(True, "anthropic in-band error raised")

    rule(url, {"id": "r", "fault": {"kind": "rate_limit", "retry_after": "1s", "retry_after_style": "seconds"}, "times": 1})
    before = len(attempts(url))
    retrying = anthropic.Anthropic(base_url=url, api_key=ANTHROPIC_KEY, max_retries=1)
    retrying.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=MSG)
    rec = attempts(url)[before:]
    check(len(rec) == 2 and rec[1]["gap_since_same_body_ms"] >= 990, "anthropic honoured retry-after seconds")
    control(url, "DELETE", "/_gatedrill/faults")


def deepseek_checks(url):
    c = openai.OpenAI(base_url=url, api_key=DEEPSEEK_KEY, max_retries=0)
    r = c.chat.completions.create(model="deepseek-chat", messages=MSG)
    check(r.choices[0].message.content, "deepseek via the openai SDK")
    # Kept-alive answers: empty lines before the JSON, comments before the first chunk.
    rule(url, {"id": "d", "fault": {"kind": "delay", "fixed": "350ms"}, "times": 2})
    r = c.chat.completions.create(model="deepseek-chat", messages=MSG)
    check(r.choices[0].message.content, "deepseek kept-alive plain answer parses")
    chunks = list(c.chat.completions.create(model="deepseek-chat", messages=MSG, stream=True))
    check(chunks and chunks[-1].choices[0].finish_reason == "stop", "deepseek kept-alive stream parses")
    rule(url, {"id": "q", "fault": {"kind": "quota_exhausted"}, "times": 1})
    try:
        c.chat.completions.create(model="deepseek-chat", messages=MSG)
        check(False, "402 accepted")
    except openai.APIStatusError as e:
        check(e.status_code == 402, "deepseek 402")
    control(url, "DELETE", "/_gatedrill/faults")


def main():
    proc = subprocess.Popen([sys.argv[1], "mock", "serve", "--seed", "1"], stdout=subprocess.PIPE, text=True)
    try:
        urls = {}
        for _ in range(3):
            line = json.loads(proc.stdout.readline())
            urls[line["provider"]] = line["url"]
        started = time.time()
        openai_checks(urls["openai"])
        anthropic_checks(urls["anthropic"])
        deepseek_checks(urls["deepseek"])
        keys = {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY, "deepseek": DEEPSEEK_KEY}
        agent_checks.run(sys.modules[__name__], urls, keys)
        gateway_checks.run(sys.modules[__name__], sys.argv[1], urls, keys)
        print("official SDKs: openai %s, anthropic %s, %.1fs"
              % (openai.__version__, anthropic.__version__, time.time() - started))
        print("%d passed, 0 failed" % checks)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
