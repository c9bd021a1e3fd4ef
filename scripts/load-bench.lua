-- wrk script: POSTs real comments from the shipped corpus to the score API.
-- MODE=miss makes every body unique (a counter in the text), MODE=hit repeats one comment,
-- MODE=healthz sends GET /healthz (the baseline), MODE=akismet POSTs the same comments as
-- unique Akismet comment-check forms, MODE=feedback POSTs each comment once as a spam
-- label (unique across threads and across wrk processes given distinct PREFIX values).
local bodies = {}
local counter = 0
local mode = os.getenv("MODE") or "miss"
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  local file = mode == "akismet" and "target/bench-forms.txt" or "target/bench-bodies.txt"
  local f = assert(io.open(os.getenv("BODIES") or file, "r"))
  for line in f:lines() do
    bodies[#bodies + 1] = line
  end
  f:close()
  -- Threads start at different offsets so they do not all send the same comment.
  counter = math.random(1, 1000000) * 1000
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  if mode == "healthz" then
    return wrk.format("GET", "/healthz", {}, nil)
  end
  counter = counter + 1
  if mode == "feedback" then
    local tag = (os.getenv("PREFIX") or "w") .. "-" .. tostring(thread_id or 0) .. "-" .. tostring(counter)
    local comment = bodies[(counter % #bodies) + 1]:gsub("__N__", tag)
    return wrk.format(nil, "/v1/feedback", nil, '{"label":"spam","comment":' .. comment .. '}')
  end
  if mode == "akismet" then
    local form = bodies[(counter % #bodies) + 1]:gsub("__N__", tostring(counter))
    return wrk.format("POST", "/1.1/comment-check",
      { ["Content-Type"] = "application/x-www-form-urlencoded" }, form)
  end
  local body
  if mode == "hit" then
    body = bodies[1]:gsub("__N__", "0")
  else
    body = bodies[(counter % #bodies) + 1]:gsub("__N__", tostring(counter))
  end
  return wrk.format(nil, "/v1/comments/score", nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT req/s=%.0f p50_us=%d p99_us=%d errors=%d non2xx=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.requests))
end
