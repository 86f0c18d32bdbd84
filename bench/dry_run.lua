-- wrk script: the runbook's dry-run probe against the gateway.
wrk.method = "POST"
wrk.body = '{"role":"author","prompt":"hello there","timeoutMs":5000}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-admin-token"] = "bench-admin-token"
