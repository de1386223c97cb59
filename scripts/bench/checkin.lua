-- scripts/bench/checkin.lua: wrk script for authenticated self check-ins.
-- wrk ... -s checkin.lua URL -- EVENT CODE FIRST THREADS VOLUNTEERS
-- Each request is a different volunteer: thread t of n takes volunteers FIRST + t, FIRST + t + n,
-- ... (after volunteer VOLUNTEERS, volunteer 1 again) and sends that volunteer's own bearer
-- token (made by setup.sql) and the event's code.  done() prints "RESULT created=N other=N
-- next=K" from the statuses the threads saw, K the first volunteer no thread reached, from
-- which the next load starts: a volunteer of an earlier load would find their session cached
-- in the worker and just touched, and cost the server less than a first tap does.
local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   nthreads = tonumber(args[4] or "2")
   next_v = tonumber(args[3]) + tid
   volunteers = tonumber(args[5] or "1000000000")
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
   local token = string.format("bench%038d", (next_v - 1) % volunteers + 1)
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
   local c, o, next, volunteers = 0, 0, 0, threads[1]:get("volunteers")
   for _, t in ipairs(threads) do
      c = c + t:get("created")
      o = o + t:get("other")
      next = math.max(next, t:get("next_v"))
   end
   io.write(string.format("RESULT created=%d other=%d next=%d\n", c, o, (next - 1) % volunteers + 1))
end
