"""The shared governor's Lua scripts: each step is one atomic script run by Redis.

Every script reads the time from Redis (``TIME``), never from the caller, so hosts whose
clocks disagree still agree on lease expiries and request slots. Keys of one account and
family share a hash tag (``{account:family}``) so a cluster keeps them on one node.

Window keys: ``slots`` (sorted set: slot id -> expiry, ms; a lease of several slots, an
image task of ``n`` images, is ``n`` members added, renewed and removed together, so every
count here is of slots), ``pending`` (the same for slots whose create has no answer yet),
``state`` (hash: ``limit``, ``learned``, ``probing``, ``before_probe``, ``since_probe``,
``probe_every``, ``probes``, ``limited``), ``answers`` (list: the last 20 create answers,
1 for a 1303). Releases ``PUBLISH`` on the family's ``freed`` channel so waiters wake at
once.
Pacer key: one hash per account (``rate``, ``tat``, ``blocked``, ``grown``, ``last_dec``,
the 1-second request counters ``bsec``/``bcnt``/``bprev``).
"""

from __future__ import annotations

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

_TOUCH = """
for i = 1, #KEYS do
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
"""

#: KEYS slots, state, answers, pending; ARGV ttl_ms, lease_ms, initial, slot ids...
#: Drops expired leases; takes every slot of the lease or none: if ``held + count`` is within
#: ``limit`` (a lease larger than the limit when none is held, else it would wait forever) —
#: and, while the limit
#: is unknown, if creates still unanswered (``pending``, leases too) are fewer than the tasks
#: accepted (at least 4): slow start doubles per round trip, no faster, so the first 1303
#: finds few creates on their way (``ConcurrencyWindow.has_room``, for every process).
#: Returns {got (0/1), held, limit, learned or -1}.
ACQUIRE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local limit = tonumber(redis.call('HGET', KEYS[2], 'limit'))
if not limit then
  limit = tonumber(ARGV[3])
  redis.call('HSET', KEYS[2], 'limit', limit)
end
local learned = tonumber(redis.call('HGET', KEYS[2], 'learned'))
local held = redis.call('ZCARD', KEYS[1])
local pending = redis.call('ZCARD', KEYS[4])
local count = #ARGV - 3
local got = 0
if (held + count <= limit or held == 0) and (learned or pending < math.max(4, held - pending)) then
  local expiry = now + tonumber(ARGV[2])
  for i = 4, #ARGV do
    redis.call('ZADD', KEYS[1], expiry, ARGV[i])
    redis.call('ZADD', KEYS[4], expiry, ARGV[i])
  end
  held = held + count
  got = 1
end
learned = learned or -1
"""
    + _TOUCH
    + """
return {got, held, limit, learned}
"""
)

#: KEYS slots, state, answers; ARGV ttl_ms, lease_ms, lease ids...
#: Renews the leases still held (a lease released meanwhile is not brought back); returns
#: the ids it did not find: released meanwhile, or expired before their renewal came (a
#: holder paused longer than the lease).
RENEW = (
    _NOW
    + """
local expiry = now + tonumber(ARGV[2])
local lost = {}
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], expiry, ARGV[i])
  else
    table.insert(lost, ARGV[i])
  end
end
"""
    + _TOUCH
    + """
return lost
"""
)

#: KEYS slots, state, answers, pending; ARGV slot ids... The create of these slots has its
#: answer.
ANSWERED = """
return redis.call('ZREM', KEYS[4], unpack(ARGV))
"""

#: KEYS slots, state, answers; ARGV ttl_ms, lease_ms, slot ids...
#: Slots taken without asking: a task resumed from a journal already runs on the server.
HOLD = (
    _NOW
    + """
local expiry = now + tonumber(ARGV[2])
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], expiry, ARGV[i])
end
"""
    + _TOUCH
    + """
return redis.call('ZCARD', KEYS[1])
"""
)

#: KEYS slots, state, answers; ARGV ttl_ms, channel, completed (0/1), base_probe_every,
#: slot ids... Gives slots back (all of them in one step); a completion that drains a full
#: window counts toward the next probe (one process probes for all: ``probing`` is shared).
#: Returns {limit, learned}.
RELEASE = """
local removed = 0
for i = 5, #ARGV do
  removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[4], ARGV[i])
end
local held = redis.call('ZCARD', KEYS[1])
local limit = tonumber(redis.call('HGET', KEYS[2], 'limit')) or 1
local learned = tonumber(redis.call('HGET', KEYS[2], 'learned'))
if ARGV[3] == '1' and learned and redis.call('HGET', KEYS[2], 'probing') ~= '1'
    and held + removed >= limit then
  local since = redis.call('HINCRBY', KEYS[2], 'since_probe', 1)
  local every = tonumber(redis.call('HGET', KEYS[2], 'probe_every')) or tonumber(ARGV[4])
  if since >= every then
    redis.call('HSET', KEYS[2], 'since_probe', 0, 'probing', 1, 'limit', limit + 1)
    redis.call('HINCRBY', KEYS[2], 'probes', 1)
    limit = limit + 1
  end
end
if removed > 0 then
  redis.call('PUBLISH', ARGV[2], '1')
end
"""
RELEASE += _TOUCH + "\nreturn {limit, learned or -1}\n"

#: KEYS slots, state, answers; ARGV ttl_ms. A create was accepted: in slow start a full
#: window grows by one (still doubling per round trip, since every create of a full window
#: is accepted while it is full; by one, not two, as many processes' creates race to fill
#: what it grew: the first 1303 finds fewer on their way); a probe that got through becomes
#: the learned limit.
ACCEPTED = """
local held = redis.call('ZCARD', KEYS[1])
local limit = tonumber(redis.call('HGET', KEYS[2], 'limit')) or 1
local learned = tonumber(redis.call('HGET', KEYS[2], 'learned'))
redis.call('LPUSH', KEYS[3], 0)
redis.call('LTRIM', KEYS[3], 0, 19)
if not learned then
  if held >= limit then
    limit = limit + 1
    redis.call('HSET', KEYS[2], 'limit', limit)
  end
elseif redis.call('HGET', KEYS[2], 'probing') == '1' and held >= limit then
  redis.call('HDEL', KEYS[2], 'probing')
  redis.call('HSET', KEYS[2], 'before_probe', learned, 'learned', limit)
  learned = limit
end
"""
ACCEPTED += _TOUCH + "\nreturn {limit, learned or -1}\n"

#: KEYS slots, state, answers; ARGV ttl_ms, channel, base_probe_every, max_probe_every,
#: slot ids... A create got 1303: its slots go back, and the shared limit learns — the same
#: rules as ``ConcurrencyWindow.over_limit``, over the answers of every process.
OVER_LIMIT = """
local count = #ARGV - 4
for i = 5, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[4], ARGV[i])
end
redis.call('PUBLISH', ARGV[2], '1')
redis.call('HINCRBY', KEYS[2], 'limited', 1)
local held = redis.call('ZCARD', KEYS[1])
local limit = tonumber(redis.call('HGET', KEYS[2], 'limit')) or 1
local learned = tonumber(redis.call('HGET', KEYS[2], 'learned'))
local base = tonumber(ARGV[3])
local every = tonumber(redis.call('HGET', KEYS[2], 'probe_every')) or base
local before = tonumber(redis.call('HGET', KEYS[2], 'before_probe'))
if redis.call('HGET', KEYS[2], 'probing') == '1' and learned then
  limit = learned
  redis.call('HDEL', KEYS[2], 'probing')
  redis.call('HSET', KEYS[2], 'limit', limit, 'since_probe', 0,
             'probe_every', math.min(tonumber(ARGV[4]), 2 * every))
elseif before and held + count >= limit then
  limit = before
  learned = before
  redis.call('HDEL', KEYS[2], 'before_probe')
  redis.call('HSET', KEYS[2], 'limit', limit, 'learned', limit, 'since_probe', 0,
             'probe_every', math.min(tonumber(ARGV[4]), 2 * every))
else
  local again = redis.call('LINDEX', KEYS[3], 0) == '1'
  redis.call('LPUSH', KEYS[3], 1)
  redis.call('LTRIM', KEYS[3], 0, 19)
  local answers = redis.call('LRANGE', KEYS[3], 0, -1)
  local refused = 0
  for _, a in ipairs(answers) do
    if a == '1' then refused = refused + 1 end
  end
  if (not learned) or again or (refused >= 3 and refused * 4 >= #answers) then
    limit = math.max(1, held)
    learned = limit
    redis.call('HDEL', KEYS[2], 'before_probe')
    redis.call('HSET', KEYS[2], 'limit', limit, 'learned', limit, 'since_probe', 0,
               'probe_every', base)
    redis.call('DEL', KEYS[3])
  end
end
"""
OVER_LIMIT += _TOUCH + "\nreturn {limit, learned or -1}\n"

#: KEYS pacer; ARGV ttl_ms, max_rate (0: none), min_rate, growth per second, decrease
#: factor, decrease (0/1), retry_after_ms (-1: none). GCRA by reservation: the caller gets
#: the time of its slot (``wait`` ms from now) and the next slot moves 1/rate on. The rate
#: grows a few percent per second; a decrease (this process saw 1302s as a real share of
#: its answers) halves it — once per episode for all processes (not again within the pause
#: or a second) — and holds every request until Retry-After has passed.
#: Returns {wait_ms, rate or -1} as strings (Lua numbers would be cut to integers).
PACE = (
    _NOW
    + """
local k = KEYS[1]
local rate = tonumber(redis.call('HGET', k, 'rate'))
local tat = tonumber(redis.call('HGET', k, 'tat')) or 0
local blocked = tonumber(redis.call('HGET', k, 'blocked')) or 0
local grown = tonumber(redis.call('HGET', k, 'grown')) or now
local maxr = tonumber(ARGV[2])
if maxr <= 0 then maxr = nil end
local sec = math.floor(now / 1000)
local bsec = tonumber(redis.call('HGET', k, 'bsec')) or sec
local bcnt = tonumber(redis.call('HGET', k, 'bcnt')) or 0
local bprev = tonumber(redis.call('HGET', k, 'bprev')) or 0
if sec ~= bsec then
  if sec == bsec + 1 then bprev = bcnt else bprev = 0 end
  bcnt = 0
  bsec = sec
end
if rate and now > blocked then
  local elapsed = (now - math.max(grown, blocked)) / 1000
  if elapsed > 0 then rate = rate * (1 + tonumber(ARGV[4])) ^ elapsed end
end
if maxr and (not rate or rate > maxr) then rate = maxr end
grown = now
if ARGV[6] == '1' then
  local last = tonumber(redis.call('HGET', k, 'last_dec'))
  local ra = tonumber(ARGV[7])
  local guard = 1000
  if ra > guard then guard = ra end
  if not last or now - last >= guard then
    local observed = nil
    if bprev >= 2 then observed = bprev end
    local base = rate or observed or 10
    if observed and observed < base then base = observed end
    rate = math.max(tonumber(ARGV[3]), base * tonumber(ARGV[5]))
    local pause = ra
    if pause < 0 then pause = 1000 / rate end
    if now + pause > blocked then blocked = now + pause end
    redis.call('HSET', k, 'last_dec', now)
  end
end
local start = math.max(now, blocked)
if rate then
  if tat > start then start = tat end
  tat = start + 1000 / rate
  redis.call('HSET', k, 'rate', tostring(rate))
end
bcnt = bcnt + 1
redis.call('HSET', k, 'tat', tostring(tat), 'blocked', tostring(blocked), 'grown', now,
           'bsec', bsec, 'bcnt', bcnt, 'bprev', bprev)
redis.call('PEXPIRE', k, ARGV[1])
return {tostring(start - now), tostring(rate or -1)}
"""
)

#: Every script by the name the governor runs it under.
SCRIPTS = {
    "ACQUIRE": ACQUIRE,
    "ANSWERED": ANSWERED,
    "HOLD": HOLD,
    "RENEW": RENEW,
    "RELEASE": RELEASE,
    "ACCEPTED": ACCEPTED,
    "OVER_LIMIT": OVER_LIMIT,
    "PACE": PACE,
}
