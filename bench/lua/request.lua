-- One wrk request, configured by environment variables (set by bench/run.sh):
--   BENCH_METHOD   GET, POST, PATCH ... (default GET)
--   BENCH_PATH     request path; "{id}" is replaced by the next of BENCH_IDS
--   BENCH_IDS      comma-separated ids to cycle through (optional)
--   BENCH_COOKIE   the Cookie header (optional)
--   BENCH_CSRF     the X-CSRF-TOKEN header (optional)
--   BENCH_BODY     a JSON body (optional; sets Content-Type: application/json)
-- done() prints one machine-readable line that bench/run.sh parses.

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local cookie = os.getenv("BENCH_COOKIE")
local csrf = os.getenv("BENCH_CSRF")
local body = os.getenv("BENCH_BODY")
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

if #ids > 0 then
  local n = 0
  request = function()
    n = n + 1
    local p = string.gsub(path, "{id}", ids[(n % #ids) + 1])
    return wrk.format(nil, p)
  end
end

done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
