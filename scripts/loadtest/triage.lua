-- wrk script for scripts/loadtest.sh: POSTs one whole message per request, cycling through a
-- corpus of messages, and prints a machine-readable summary line when the run ends.
--
--   wrk -t2 -c32 -d10s --latency -s scripts/loadtest/triage.lua \
--       http://127.0.0.1:18180/v1/triage -- CORPUS [TOKEN] [CONTENT_TYPE]
--
-- The request path is the URL's (/v1/triage for mailtriage, /checkv2 for rspamd).
-- Arguments after `--` (each may instead come from the environment):
--   CORPUS        LOADTEST_CORPUS        the corpus file (format below); required
--   TOKEN         LOADTEST_TOKEN         bearer token; empty or "-" sends no Authorization
--   CONTENT_TYPE  LOADTEST_CONTENT_TYPE  default message/rfc822
-- Corpus format (written by scripts/loadtest/prepare.py): for each message, a line with its
-- length in bytes (decimal), then exactly that many bytes of the raw RFC 5322 message.
--
-- At the end it prints one line `LOADTEST_RESULT {json}` with requests, duration, requests/s,
-- latency percentiles (microseconds) and error counts (non2xx counts statuses >= 400, as wrk's
-- "Non-2xx or 3xx responses" line does).

local threads = {}
local counter = 0

function setup(thread)
  -- Each thread starts at a different place in the corpus.
  thread:set("start_offset", counter * 97)
  counter = counter + 1
  table.insert(threads, thread)
end

local function arg_or_env(args, i, name, default)
  local v = args[i]
  if v == nil or v == "" then v = os.getenv(name) end
  if v == nil or v == "" then v = default end
  return v
end

local function read_corpus(path)
  local f, err = io.open(path, "rb")
  if not f then
    error("triage.lua: cannot open the corpus " .. tostring(path) .. ": " .. tostring(err))
  end
  local bodies = {}
  while true do
    local line = f:read("*l")
    if line == nil then break end
    if line ~= "" then
      local n = tonumber(line)
      if n == nil or n < 0 then
        error("triage.lua: corrupt corpus " .. path .. ": expected a length line, got '" ..
              string.sub(line, 1, 40) .. "'")
      end
      local body = f:read(n)
      if body == nil or #body ~= n then
        error("triage.lua: corrupt corpus " .. path .. ": message " .. (#bodies + 1) ..
              " is truncated")
      end
      bodies[#bodies + 1] = body
    end
  end
  f:close()
  if #bodies == 0 then error("triage.lua: the corpus " .. path .. " holds no messages") end
  return bodies
end

local requests_list = {}
local index = 0

function init(args)
  local corpus = arg_or_env(args, 1, "LOADTEST_CORPUS", nil)
  if corpus == nil then
    error("triage.lua: no corpus: pass it after `--` or set LOADTEST_CORPUS")
  end
  local token = arg_or_env(args, 2, "LOADTEST_TOKEN", "")
  local content_type = arg_or_env(args, 3, "LOADTEST_CONTENT_TYPE", "message/rfc822")
  local headers = { ["Content-Type"] = content_type }
  if token ~= "" and token ~= "-" then
    headers["Authorization"] = "Bearer " .. token
  end
  -- Pre-format every request once; request() then only picks the next one.
  for i, body in ipairs(read_corpus(corpus)) do
    requests_list[i] = wrk.format("POST", wrk.path, headers, body)
  end
  index = (tonumber(start_offset) or 0) % #requests_list
end

function request()
  index = index + 1
  if index > #requests_list then index = 1 end
  return requests_list[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local rps = 0
  if secs > 0 then rps = summary.requests / secs end
  io.write(string.format(
    "LOADTEST_RESULT {\"requests\": %d, \"duration_s\": %.3f, \"rps\": %.1f, " ..
    "\"bytes\": %d, \"p50_us\": %d, \"p90_us\": %d, \"p99_us\": %d, \"max_us\": %d, " ..
    "\"mean_us\": %.1f, \"non2xx\": %d, \"connect_errors\": %d, \"read_errors\": %d, " ..
    "\"write_errors\": %d, \"timeouts\": %d}\n",
    summary.requests, secs, rps, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.status, e.connect, e.read, e.write, e.timeout))
end
