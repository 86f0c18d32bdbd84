"""The reference gateway's OpenAI-compatible endpoint against the official OpenAI SDK.

`gatedrill gateway serve` in front of the mocks, reached as teams reach an OpenAI-compatible
gateway: base_url <gateway>/v1, the admin token as the API key, a role as the model. Plain and
streamed answers, failover when the primary's stream breaks (who served is read from the
mocks' journals), and the gateway's own 429 with a Retry-After when every provider is limited.
"""

import json
import os
import socket
import subprocess

import openai

ADMIN = "sdk-check-admin-token"


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(m, binary, urls, keys):
    env = dict(os.environ)
    env.update({
        "ADMIN_API_TOKEN": ADMIN,
        "AGENT_GATEWAY_WEBHOOK_SECRET": "sdk-check-webhook-secret",
        "AI_PROVIDER_COOLDOWN_MS": "100",
        "AI_PROVIDER_TIMEOUT_MS": "2000",
    })
    models = {"openai": "gpt-5", "anthropic": "claude-sonnet-4-5", "deepseek": "deepseek-chat"}
    for p, model in models.items():
        up = p.upper()
        env["AI_RUNTIME_%s_ENDPOINT" % up] = urls[p]
        env["AI_RUNTIME_%s_API_KEY" % up] = keys[p]
        env["AI_RUNTIME_%s_MODEL" % up] = model
    chain = ",".join("%s:%s" % pm for pm in models.items())
    for role in ("AUTHOR", "CRITIC", "MAKER", "JUDGE"):
        env["AI_%s_MODEL_CHAIN" % role] = chain
    proc = subprocess.Popen([binary, "gateway", "serve", "--bind", "127.0.0.1:%d" % _free_port()],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        gw = json.loads(proc.stdout.readline())["gateway"]
        c = openai.OpenAI(base_url=gw + "/v1", api_key=ADMIN, max_retries=0)
        for provider in models:
            m.control(urls[provider], "DELETE", "/_gatedrill/faults")
        r = c.chat.completions.create(model="author", messages=m.MSG)
        m.check(r.choices[0].message.content and r.model == "gpt-5", "gateway: plain answer from the primary")
        m.check(r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens, "gateway: usage")

        # The primary's stream breaks: the SDK sees one whole stream, served by the fallback.
        m.rule(urls["openai"], {"id": "cut", "fault": {"kind": "stream_cut", "after_events": 2}, "times": 1})
        before = len(m.attempts(urls["anthropic"]))
        chunks = list(c.chat.completions.create(model="critic", messages=m.MSG, stream=True,
                                                stream_options={"include_usage": True}))
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        m.check(text and chunks[-1].usage is not None, "gateway: a whole stream with its usage chunk")
        served = m.attempts(urls["anthropic"])[before:]
        m.check(len(served) == 1 and served[0]["outcome"] == "completed", "gateway: the fallback served it")

        # Every provider limited: the gateway's own 429 says when to come back.
        for provider in models:
            m.rule(urls[provider], {"id": "limited", "fault": {"kind": "rate_limit", "retry_after": "2s"}})
        try:
            c.chat.completions.create(model="maker", messages=m.MSG)
            m.check(False, "gateway: an answer while every provider was limited")
        except openai.RateLimitError as e:
            m.check(int(e.response.headers.get("retry-after", "0")) >= 1, "gateway: 429 with Retry-After")
        for provider in models:
            m.control(urls[provider], "DELETE", "/_gatedrill/faults")

        try:
            openai.OpenAI(base_url=gw + "/v1", api_key="wrong", max_retries=0).chat.completions.create(
                model="author", messages=m.MSG)
            m.check(False, "gateway: a wrong key accepted")
        except openai.AuthenticationError as e:
            m.check(e.code == "invalid_api_key", "gateway: 401 in the OpenAI shape")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
