-- random-paths.lua: a wrk script that requests paths drawn at random from
-- a list: the benchmark's working-set cell and scripts/soak-memory.
--
--   wrk ... -s random-paths.lua URL -- LISTFILE SEED
--
-- LISTFILE has one "path<TAB>If-None-Match value" line per request kind;
-- an empty value makes a plain GET.  With each file's own tag every answer
-- should be a 304 (the module answers 304 on a miss too: it hashes the
-- file, then compares).  The requests are formatted once in init(), so
-- request() is a table lookup.  The report is report.lua's.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

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
      error("random-paths.lua: no paths in " .. tostring(list))
   end
   -- a different stream per thread, the same from run to run
   math.randomseed(seed * 1000 + (id or 0))
end

function request()
   return reqs[math.random(#reqs)]
end
