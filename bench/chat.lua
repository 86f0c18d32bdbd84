-- wrk script: the same non-streaming chat completion on every request.
wrk.method = "POST"
wrk.body = '{"model":"gpt-5","messages":[{"role":"user","content":"hello there"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-0001"
