-- Records one process's presence report, atomically: its heartbeat, then for each
-- channel its count of streams (none: its field goes), and, where members came or
-- went, a presence event for the channel with the count across every live process,
-- returned as {channel, event, channel, event, ...} for the caller to publish (in a
-- cluster a script may publish only in its own slot). Processes silent for longer than
-- the dead time are forgotten.
--
-- KEYS[1]  the sorted set of processes by last heartbeat (ms, Redis's clock)
-- KEYS[i]  (i >= 2) the hash of counts by process of a channel
-- ARGV[1]  the process           ARGV[2]  the dead time, ms    ARGV[3]  the hashes' ttl, s
-- ARGV[4 + 3(i-2)], +1, +2      the channel of KEYS[i], this process's count there, and
--                               `"joined":[..],"left":[..]`, or '' if none came or went
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local published = {}
for i = 2, #KEYS do
  local at = 4 + 3 * (i - 2)
  local channel, count, members = ARGV[at], tonumber(ARGV[at + 1]), ARGV[at + 2]
  if count > 0 then
    redis.call('HSET', KEYS[i], ARGV[1], count)
    redis.call('EXPIRE', KEYS[i], ARGV[3])
  else
    redis.call('HDEL', KEYS[i], ARGV[1])
  end
  if members ~= '' then
    local total = 0
    local counts = redis.call('HGETALL', KEYS[i])
    for j = 1, #counts, 2 do
      if redis.call('ZSCORE', KEYS[1], counts[j]) then
        total = total + tonumber(counts[j + 1])
      end
    end
    local data = '{"channel":' .. cjson.encode(channel) .. ',"count":' .. total .. ',' .. members .. '}'
    published[#published + 1] = channel
    published[#published + 1] = '{"$sse":1,"event":"sse-presence","data":' .. cjson.encode(data) .. '}'
  end
end
return published
