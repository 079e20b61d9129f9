-- random-paths.lua: a wrk script for the working-set cell.  Every request
-- is a GET of a path drawn at random from a list, with that file's own
-- If-None-Match tag, so every answer should be a 304 (the module answers
-- 304 on a miss too: it hashes the file, then compares).
--
--   wrk ... -s random-paths.lua URL -- LISTFILE SEED
--
-- LISTFILE has one "path<TAB>tag" line per file.  The requests are
-- formatted once in init(), so request() is a table lookup.

local reqs = {}
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("id", threads)
end

function init(args)
   local list, seed = args[1], tonumber(args[2] or "1")
   for line in io.lines(list) do
      local path, tag = line:match("^([^\t]+)\t(.+)$")
      if path then
         reqs[#reqs + 1] = wrk.format("GET", path, { ["If-None-Match"] = tag })
      end
   end
   if #reqs == 0 then
      error("random-paths.lua: no paths in " .. tostring(list))
   end
   -- a different stream per thread, the same from run to run
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
