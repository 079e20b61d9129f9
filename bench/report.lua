-- report.lua: a wrk script that only reports.  Without request() and
-- response() wrk keeps its fast static path, so this costs nothing per
-- request.  bench/run reads the WRKJSON line to check what was measured:
-- errors (connect, read, write, timeout, status >= 400) must be 0, and the
-- bytes per response must be those of the answer checked beforehand (a 304
-- is ~200 bytes, a 200 carries its body), so a server that answered 200
-- where 304 was expected, or an error page, cannot pass unnoticed.

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
