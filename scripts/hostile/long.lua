# Throughput measurement of the long-path attack (docs/performance.md):
-- LONG_PATH_BYTES (default 61440): one GET per request to /v1/models/aaa... of that length
local n = tonumber(os.getenv("LONG_PATH_BYTES") or "61440")
local path = "/v1/models/" .. string.rep("a", n - 11)
request = function() return wrk.format("GET", path) end
