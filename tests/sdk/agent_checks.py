"""Agent traffic against the official SDKs (../shared/WIRE.md "Agent traffic"): tool calls (plain and through the SDKs'
own stream helpers), the Responses API (plain, raw typed events, the stream helper), embeddings
(the SDK's default base64 decoding, float, dimensions), Anthropic count_tokens, and each new
fault surfacing as the SDK's own exception or stream event.

Imported by check_official_sdks.py, which passes its `check`, `rule` and `control` helpers.
"""

import json

import anthropic
import openai
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseTextDeltaEvent,
)

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}
DOCS = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"], "additionalProperties": False}
CHAT_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "strict": True, "parameters": WEATHER}},
    {"type": "function", "function": {"name": "search_docs", "strict": True, "parameters": DOCS}},
]
RESPONSES_TOOLS = [{"type": "function", "name": "get_weather", "strict": True, "parameters": WEATHER}]
ANTHROPIC_TOOLS = [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER}]
ASK = [{"role": "user", "content": "what is the weather in Paris? use get_weather"}]
ASK_BOTH = [{"role": "user", "content": "use get_weather and search_docs"}]


def weather_ok(args):
    return isinstance(args, dict) and isinstance(args.get("city"), str) and args.get("unit") in ("celsius", "fahrenheit")


def openai_tools(h, url, key, model, api_base):
    c = openai.OpenAI(base_url=api_base, api_key=key, max_retries=0)
    r = c.chat.completions.create(model=model, messages=ASK, tools=CHAT_TOOLS)
    call = r.choices[0].message.tool_calls[0]
    h.check(r.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather", "%s tool call" % model)
    h.check(weather_ok(json.loads(call.function.arguments)), "%s arguments fit the schema" % model)
    r = c.chat.completions.create(model=model, messages=ASK_BOTH, tools=CHAT_TOOLS)
    h.check([t.function.name for t in r.choices[0].message.tool_calls] == ["get_weather", "search_docs"], "parallel calls")

    # The SDK's stream helper assembles the deltas and parses strict tools' arguments.
    with c.chat.completions.stream(model=model, messages=ASK_BOTH, tools=CHAT_TOOLS) as s:
        kinds = [e.type for e in s]
        final = s.get_final_completion()
    calls = final.choices[0].message.tool_calls
    h.check(len(calls) == 2 and weather_ok(calls[0].function.parsed_arguments), "%s stream helper assembles calls" % model)
    h.check("tool_calls.function.arguments.done" in kinds, "helper saw arguments.done")

    h.rule(url, {"id": "split", "fault": {"kind": "tool_name_split"}, "times": 1})
    with c.chat.completions.stream(model=model, messages=ASK, tools=CHAT_TOOLS) as s:
        final = s.get_final_completion()
    h.check(final.choices[0].message.tool_calls[0].function.name == "get_weather", "split name joined by the helper")

    h.rule(url, {"id": "bad", "fault": {"kind": "tool_call_malformed"}, "times": 2})
    try:
        c.chat.completions.parse(model=model, messages=ASK, tools=CHAT_TOOLS)
        h.check(False, "malformed arguments parsed")
    except ValueError:
        h.check(True, "malformed arguments raise in parse()")
    try:
        with c.chat.completions.stream(model=model, messages=ASK, tools=CHAT_TOOLS) as s:
            s.get_final_completion()
        h.check(False, "malformed streamed arguments parsed")
    except ValueError:
        h.check(True, "malformed arguments raise in the stream helper")

    # A cut inside the arguments is an error while iterating, not a finished call.
    h.rule(url, {"id": "cut", "fault": {"kind": "stream_cut", "after_events": 3}, "times": 1})
    try:
        with c.chat.completions.stream(model=model, messages=ASK, tools=CHAT_TOOLS) as s:
            s.get_final_completion()
        h.check(False, "cut tool stream ended cleanly")
    except Exception:  # httpx.RemoteProtocolError or openai.APIConnectionError, by version
        h.check(True, "cut tool stream raises")
    h.control(url, "DELETE", "/_gatedrill/faults")


def openai_responses(h, url, key):
    c = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
    r = c.responses.create(model="gpt-5", input="hello there")
    h.check(r.status == "completed" and r.output_text, "responses object")
    h.check(r.usage.input_tokens_details.cached_tokens == 0 and r.usage.output_tokens > 0, "responses usage")
    r = c.responses.create(model="o4-mini", input="hi")
    h.check(r.output[0].type == "reasoning" and r.usage.output_tokens_details.reasoning_tokens > 0, "reasoning item")
    r = c.responses.create(model="gpt-5", input="hi", max_output_tokens=3)
    h.check(r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens", "incomplete")
    r = c.responses.create(model="gpt-5", input=ASK, tools=RESPONSES_TOOLS)
    h.check(r.output[0].type == "function_call" and weather_ok(json.loads(r.output[0].arguments)), "function_call item")

    events = list(c.responses.create(model="gpt-5", input="hi", stream=True))
    h.check(isinstance(events[0], ResponseCreatedEvent) and isinstance(events[-1], ResponseCompletedEvent), "typed events")
    h.check(any(isinstance(e, ResponseTextDeltaEvent) for e in events), "text deltas typed")
    h.check([e.sequence_number for e in events] == list(range(len(events))), "sequence numbers rise")
    h.check("".join(e.delta for e in events if isinstance(e, ResponseTextDeltaEvent)) == events[-1].response.output_text,
            "deltas add up to the final text")

    with c.responses.stream(model="gpt-5", input=ASK, tools=RESPONSES_TOOLS) as s:
        saw = [e for e in s if isinstance(e, ResponseFunctionCallArgumentsDeltaEvent)]
        final = s.get_final_response()
    h.check(saw and final.output[0].type == "function_call", "responses stream helper")
    h.check(weather_ok(final.output[0].parsed_arguments), "helper parsed strict arguments")

    h.rule(url, {"id": "failed", "fault": {"kind": "response_failed", "after_events": 4}, "times": 2})
    events = list(c.responses.create(model="gpt-5", input="hi", stream=True))
    h.check(isinstance(events[-1], ResponseFailedEvent) and events[-1].response.status == "failed", "response.failed typed")
    try:
        with c.responses.stream(model="gpt-5", input="hi") as s:
            s.get_final_response()
        h.check(False, "failed response returned")
    except RuntimeError:
        h.check(True, "helper refuses a failed response")

    h.rule(url, {"id": "err", "fault": {"kind": "stream_error_event", "after_events": 3}, "times": 1})
    events = list(c.responses.create(model="gpt-5", input="hi", stream=True))
    h.check(isinstance(events[-1], ResponseErrorEvent) and events[-1].code == "server_error", "error event typed")

    h.rule(url, {"id": "cut", "fault": {"kind": "stream_cut", "after_events": 4}, "match": {"path": "/v1/responses"}, "times": 1})
    try:
        list(c.responses.create(model="gpt-5", input=ASK, tools=RESPONSES_TOOLS, stream=True))
        h.check(False, "cut responses stream ended cleanly")
    except Exception:
        h.check(True, "cut responses stream raises")

    h.rule(url, {"id": "503", "fault": {"kind": "http_error", "status": 503}, "match": {"path": "/v1/responses"}, "times": 1})
    try:
        c.responses.create(model="gpt-5", input="hi")
        h.check(False, "503 accepted")
    except openai.InternalServerError:
        h.check(True, "responses 503")
    h.rule(url, {"id": "gone", "fault": {"kind": "retired_model"}, "times": 1})
    try:
        c.responses.create(model="gpt-5", input="hi")
        h.check(False, "retired model accepted")
    except openai.NotFoundError as e:
        h.check(e.code == "model_not_found", "retired model is model_not_found")
    h.control(url, "DELETE", "/_gatedrill/faults")


def openai_embeddings(h, url, key):
    c = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
    b64 = c.embeddings.create(model="text-embedding-3-small", input="alpha")  # the SDK asks for base64
    flt = c.embeddings.create(model="text-embedding-3-small", input="alpha", encoding_format="float")
    h.check(len(b64.data[0].embedding) == 1536, "embedding length")
    h.check(max(abs(a - b) for a, b in zip(b64.data[0].embedding, flt.data[0].embedding)) < 1e-6, "base64 == float")
    e = c.embeddings.create(model="text-embedding-3-large", input=["a", "b"], dimensions=256)
    h.check(len(e.data) == 2 and len(e.data[1].embedding) == 256 and e.usage.total_tokens >= 2, "dimensions")
    try:
        c.embeddings.create(model="text-embedding-3-small", input="lorem ipsum " * 9000)
        h.check(False, "over-long input accepted")
    except openai.BadRequestError:
        h.check(True, "over-long input is a 400")
    h.rule(url, {"id": "emb", "fault": {"kind": "rate_limit", "retry_after": "1s"}, "match": {"path": "/v1/embeddings"}, "times": 1})
    try:
        c.embeddings.create(model="text-embedding-3-small", input="alpha")
        h.check(False, "429 accepted")
    except openai.RateLimitError:
        h.check(True, "embeddings 429")
    h.control(url, "DELETE", "/_gatedrill/faults")


def anthropic_tools(h, url, key):
    c = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)
    m = c.messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=ASK, tools=ANTHROPIC_TOOLS)
    h.check(m.stop_reason == "tool_use" and m.content[0].type == "tool_use" and weather_ok(m.content[0].input), "tool_use")
    with c.messages.stream(model="claude-sonnet-4-5", max_tokens=256, messages=ASK, tools=ANTHROPIC_TOOLS) as s:
        kinds = [e.type for e in s]
        final = s.get_final_message()
    h.check("input_json" in kinds and weather_ok(final.content[0].input), "anthropic stream helper assembles input")
    n = c.messages.count_tokens(model="claude-sonnet-4-5", messages=ASK, tools=ANTHROPIC_TOOLS)
    h.check(n.input_tokens == m.usage.input_tokens, "count_tokens agrees with usage")

    h.rule(url, {"id": "bad", "fault": {"kind": "tool_call_malformed"}, "times": 1})
    try:
        with c.messages.stream(model="claude-sonnet-4-5", max_tokens=256, messages=ASK, tools=ANTHROPIC_TOOLS) as s:
            s.get_final_message()
        h.check(False, "malformed tool input parsed")
    except ValueError:
        h.check(True, "anthropic helper raises on malformed input")
    h.rule(url, {"id": "gone", "fault": {"kind": "retired_model"}, "times": 1})
    try:
        c.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=ASK)
        h.check(False, "retired model accepted")
    except anthropic.NotFoundError:
        h.check(True, "anthropic retired model 404")
    h.control(url, "DELETE", "/_gatedrill/faults")


SYSTEM = "You are the release gate's assistant. Follow the runbook exactly and cite each section. " * 90


def reasoning_caching_betas(h, urls, keys):
    ds = openai.OpenAI(base_url=urls["deepseek"], api_key=keys["deepseek"], max_retries=0)
    r = ds.chat.completions.create(model="deepseek-reasoner", messages=ASK)
    h.check(r.choices[0].message.reasoning_content and r.usage.completion_tokens_details.reasoning_tokens > 0,
            "deepseek reasoning_content through the openai SDK")
    history = ASK + [
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"}]
    try:
        ds.chat.completions.create(model="deepseek-reasoner", messages=history)
        h.check(False, "missing reasoning_content accepted")
    except openai.BadRequestError as e:
        h.check("reasoning_content" in e.message, "echo rule is a BadRequestError")

    oa = openai.OpenAI(base_url=urls["openai"] + "/v1", api_key=keys["openai"], max_retries=0)
    msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hi"}]
    oa.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    r = oa.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    h.check(r.usage.prompt_tokens_details.cached_tokens >= 1024, "openai cached_tokens")

    an = anthropic.Anthropic(base_url=urls["anthropic"], api_key=keys["anthropic"], max_retries=0)
    system = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    w = an.messages.create(model="claude-haiku-4-5", max_tokens=16, system=system, messages=ASK)
    r = an.messages.create(model="claude-haiku-4-5", max_tokens=16, system=system, messages=ASK)
    h.check(w.usage.cache_creation_input_tokens > 0 and w.usage.cache_creation.ephemeral_5m_input_tokens > 0,
            "anthropic cache write")
    h.check(r.usage.cache_read_input_tokens == w.usage.cache_creation_input_tokens, "anthropic cache read")
    m = an.beta.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=ASK, betas=["context-1m-2025-08-07"])
    h.check(m.content, "known beta accepted")
    try:
        an.beta.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=ASK, betas=["made-up-2099-01-01"])
        h.check(False, "unknown beta accepted")
    except anthropic.BadRequestError as e:
        h.check("made-up-2099-01-01" in str(e), "unknown beta is a BadRequestError naming it")


def run(h, urls, keys):
    openai_tools(h, urls["openai"], keys["openai"], "gpt-5", urls["openai"] + "/v1")
    openai_tools(h, urls["deepseek"], keys["deepseek"], "deepseek-chat", urls["deepseek"])
    openai_responses(h, urls["openai"], keys["openai"])
    openai_embeddings(h, urls["openai"], keys["openai"])
    anthropic_tools(h, urls["anthropic"], keys["anthropic"])
    reasoning_caching_betas(h, urls, keys)
