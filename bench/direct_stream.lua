-- wrk script: the streamed call the gateway makes for that probe, sent straight to the provider.
wrk.method = "POST"
wrk.body = '{"model":"gpt-5","messages":[{"role":"user","content":"hello there"}],"max_tokens":256,"stream":true,"stream_options":{"include_usage":true}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-0001"
