-- scripts/bench/checkin.lua: wrk script for authenticated self check-ins.
-- wrk ... -s checkin.lua URL -- EVENT CODE FIRST
-- Each request is a different volunteer: thread t of n takes volunteers FIRST + t, FIRST + t + n,
-- ... and sends that volunteer's own bearer token (made by setup.sql) and the event's code.
-- done() prints "RESULT created=N other=N" from the statuses the threads saw.
local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   nthreads = tonumber(args[4] or "2")
   next_v = tonumber(args[3]) + tid
   created = 0
   other = 0
   -- The request is formatted once, with a placeholder where the token goes: wrk.format per
   -- request cost the client a few microseconds of the CPU it shares with the server.
   local placeholder = string.rep("#", 43)
   local template = wrk.format("POST", "/api/v1/events/" .. args[1] .. "/check-ins", {
      ["Authorization"] = "Bearer " .. placeholder,
      ["Content-Type"] = "application/json",
   }, '{"code":"' .. args[2] .. '"}')
   local at = template:find(placeholder, 1, true)
   before_token = template:sub(1, at - 1)
   after_token = template:sub(at + #placeholder)
end

function request()
   local token = string.format("bench%038d", next_v)
   next_v = next_v + nthreads
   return before_token .. token .. after_token
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      created = created + 1
   else
      other = other + 1
      if other <= 3 then
         io.stderr:write("non-2xx " .. status .. ": " .. body .. "\n")
      end
   end
end

function done(summary, latency, requests)
   local c, o = 0, 0
   for _, t in ipairs(threads) do
      c = c + t:get("created")
      o = o + t:get("other")
   end
   io.write(string.format("RESULT created=%d other=%d\n", c, o))
end
