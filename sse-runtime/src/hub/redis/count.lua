-- How many streams listen to a channel across every process whose last heartbeat is
-- within the dead time; the counts of processes found dead are removed.
--
-- KEYS[1]  the sorted set of processes by last heartbeat   ARGV[1]  the dead time, ms
-- KEYS[2]  the channel's hash of counts by process
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local total = 0
local counts = redis.call('HGETALL', KEYS[2])
for j = 1, #counts, 2 do
  local beat = redis.call('ZSCORE', KEYS[1], counts[j])
  if beat and tonumber(beat) >= now - tonumber(ARGV[1]) then
    total = total + tonumber(counts[j + 1])
  else
    redis.call('HDEL', KEYS[2], counts[j])
  end
end
return total
