-- wrk script: chat completions whose prompt is about 900 bytes of English-like words.
-- UNIQUE=1 makes every prompt different (a new word sequence per request, so the mock's count
-- cache never hits); otherwise every request rebuilds the same prompt. Both modes do the same
-- work in wrk, so their rates compare the mock's cost of unique against repeated prompts.
local words = {"gateway", "provider", "request", "model", "chain", "role", "cooldown", "failover",
  "timeout", "session", "channel", "ingest", "stream", "token", "budget", "answer", "retry", "after",
  "quota", "minute", "context", "window", "larger", "healthy", "blocked", "health", "summary",
  "the", "a", "of", "to", "and", "in", "is", "on", "for", "with", "when", "then", "every", "each"}
local unique = os.getenv("UNIQUE") == "1"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local n = 0
function request()
  n = n + 1
  local seed = unique and (n * 7919 + (id or 0) * 104729) or 12345
  local parts = {}
  local len = 0
  while len < 900 do
    seed = (seed * 1103515245 + 12345) % 2147483648
    local w = words[(seed % #words) + 1]
    parts[#parts + 1] = w
    len = len + #w + 1
  end
  local body = '{"model":"gpt-5","messages":[{"role":"user","content":"' .. table.concat(parts, " ") .. '"}]}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer sk-bench-0001"}, body)
end
