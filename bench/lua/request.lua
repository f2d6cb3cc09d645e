-- One wrk request, configured by environment variables (set by bench/lib/load.sh):
--   BENCH_METHOD   GET, POST, PATCH ... (default GET)
--   BENCH_PATH     the request's path and query (required: wrk.path replaces the
--                  URL's path, so a default here once sent every GET row to "/");
--                  "{id}" is replaced by the next of BENCH_IDS
--   BENCH_IDS      comma-separated ids to cycle through (optional)
--   BENCH_COOKIE   the Cookie header (optional)
--   BENCH_CSRF     the X-CSRF-TOKEN header (optional)
--   BENCH_BODY     a JSON body (optional; sets Content-Type: application/json)
--   BENCH_PROBE    when set, each thread stops after its first response, and
--                  done() prints that response (status, path sent, Link header,
--                  body) so that bench/run.sh checks the row's route before
--                  measuring it with the very same settings.
-- done() prints one machine-readable line that bench/run.sh parses.

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH")
if path == nil or path == "" or string.sub(path, 1, 1) ~= "/" then
  error("BENCH_PATH must be set to the request's path (it replaces the URL's path)")
end
local cookie = os.getenv("BENCH_COOKIE")
local csrf = os.getenv("BENCH_CSRF")
local body = os.getenv("BENCH_BODY")
local probe = (os.getenv("BENCH_PROBE") or "") ~= ""
local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS") or "", "[^,]+") do
  ids[#ids + 1] = id
end

wrk.method = method
wrk.path = path
if cookie and cookie ~= "" then wrk.headers["Cookie"] = cookie end
if csrf and csrf ~= "" then wrk.headers["X-CSRF-TOKEN"] = csrf end
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

-- The path of the last request this thread built (read by the probe).
sent_path = path
if #ids > 0 then
  local n = 0
  request = function()
    n = n + 1
    sent_path = string.gsub(path, "{id}", ids[(n % #ids) + 1])
    return wrk.format(nil, sent_path)
  end
end

local threads = {}
setup = function(thread)
  threads[#threads + 1] = thread
end

if probe then
  response = function(status, headers, response_body)
    if probe_status == nil then
      probe_status = status
      probe_path = sent_path
      probe_link = headers["Link"] or headers["link"] or ""
      probe_body = response_body or ""
    end
    wrk.thread:stop()
  end
end

local function one_line(s)
  return (string.gsub(tostring(s or ""), "[\r\n]", " "))
end

done = function(summary, latency, _)
  if probe then
    for _, t in ipairs(threads) do
      local status = t:get("probe_status")
      if status ~= nil then
        io.write(string.format("BENCH_PROBE status=%d method=%s path=%s\n", status, method, one_line(t:get("probe_path"))))
        io.write("BENCH_PROBE_LINK " .. one_line(t:get("probe_link")) .. "\n")
        io.write("BENCH_PROBE_BODY " .. one_line(t:get("probe_body")) .. "\n")
        break
      end
    end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
