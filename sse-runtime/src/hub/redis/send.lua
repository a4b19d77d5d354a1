-- Sends one event, atomically: XADD to the channel's history, whose id becomes the
-- event's; trims the history to its count and byte budget; renews its time to live;
-- publishes the envelope with the id (PUBLISH, or SPUBLISH in a cluster). With an idempotency key, a key already used
-- answers the id it was sent with and sends nothing.
--
-- KEYS[1]  the history stream          ARGV[1]  the most events kept (MAXLEN ~)
-- KEYS[2]  the idempotency key, if any ARGV[2]  the envelope after its id: ,"event":...}
--                                      ARGV[3]  the channel
--                                      ARGV[4]  the time to live, in seconds
--                                      ARGV[5]  the most bytes kept
--                                      ARGV[6], ARGV[7]  what goes before and after
--                                               the id in the envelope
--                                      ARGV[8]  the publishing command
--
-- Each entry holds `e`, the envelope after its id, and `t`, the bytes of `e` sent to
-- this history so far, this entry's included: the history holds `t(newest) - t(e) +
-- #e` bytes from entry e on, so the entries to drop are found from the oldest, without
-- reading the rest.
if KEYS[2] then
  local sent = redis.call('GET', KEYS[2])
  if sent then
    return sent
  end
end

local function field(entry, name)
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == name then
      return fields[i + 1]
    end
  end
end

local total = #ARGV[2]
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if newest then
  total = total + (tonumber(field(newest, 't')) or 0)
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2], 't', total)

local floor = total - tonumber(ARGV[5])
while floor > 0 do
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  if oldest[1] == id then
    break
  end
  local sent_before = (tonumber(field(oldest, 't')) or 0) - #(field(oldest, 'e') or '')
  if sent_before >= floor then
    break
  end
  redis.call('XDEL', KEYS[1], oldest[1])
end

redis.call('EXPIRE', KEYS[1], ARGV[4])
if KEYS[2] then
  redis.call('SET', KEYS[2], id, 'EX', ARGV[4])
end
redis.call(ARGV[8], ARGV[3], ARGV[6] .. id .. ARGV[7] .. ARGV[2])
return id
