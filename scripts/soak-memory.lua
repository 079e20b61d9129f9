-- soak-memory.lua: the wrk script of scripts/soak-memory.
--
--   wrk ... -s soak-memory.lua URL -- LISTFILE SEED
--
-- LISTFILE has one "path<TAB>If-None-Match value" line per request kind
-- (the value may be empty: a plain GET).  Every request is one of them,
-- drawn at random; the requests are formatted once in init().

local reqs = {}
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("id", threads)
end

function init(args)
   local list, seed = args[1], tonumber(args[2] or "1")
   for line in io.lines(list) do
      local path, inm = line:match("^([^\t]+)\t(.*)$")
      if path then
         local h = {}
         if inm ~= "" then
            h["If-None-Match"] = inm
         end
         reqs[#reqs + 1] = wrk.format("GET", path, h)
      end
   end
   if #reqs == 0 then
      error("soak-memory.lua: no paths in " .. tostring(list))
   end
   math.randomseed(seed * 1000 + (id or 0))
end

function request()
   return reqs[math.random(#reqs)]
end

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests": %d, "bytes": %d, "duration_us": %d, ' ..
      '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, ' ..
      '"lat_p50_us": %d, "lat_p99_us": %d}\n',
      summary.requests, summary.bytes, summary.duration,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
