import { ProtocolError, PresenceStatus, type ConnectionPresence } from '@concord/protocol';
import { Redis } from 'ioredis';
import type { PresenceChange, PresenceStore } from './presence';

export interface RedisPresenceStoreOptions {
  /** Prepended to every key, as for the room registry. Default `concord:`. */
  keyPrefix?: string;
}

/*
 * Keys, all under `<prefix>presence:`:
 *   user:<userId>          hash connectionId → "<status>|<instanceId>"
 *   instance:<instanceId>  hash connectionId → userId: what to drop when the instance goes
 *   alive:<instanceId>     set by the instance's heartbeat, expires ttlMs later
 *   instances              set of instance ids that may still be live (lapsed ones are swept)
 * A connection counts only while alive:<its instance> exists. Every operation is one script, so it
 * is atomic against every other instance and reports each transition once. As in the registry, the
 * scripts build keys from ids they read, so they take the prefix as ARGV[1]: a single Redis, not
 * Redis Cluster.
 */
const prelude = `
local prefix = ARGV[1] .. 'presence:'
local instancesKey = prefix .. 'instances'
local function userKey(id) return prefix .. 'user:' .. id end
local function instanceKey(id) return prefix .. 'instance:' .. id end
local function aliveKey(id) return prefix .. 'alive:' .. id end

local function parse(value)
  local sep = string.find(value, '|', 1, true)
  return string.sub(value, 1, sep - 1), string.sub(value, sep + 1)
end

-- presence.ts's aggregateStatus over the connections that count; instances in 'counted' count
-- whatever their heartbeat (they are being dropped, and this is the status before).
local function aggregate(userId, counted)
  local fields = redis.call('HGETALL', userKey(userId))
  local status = 'offline'
  for i = 2, #fields, 2 do
    local connStatus, instance = parse(fields[i])
    if (counted and counted[instance]) or redis.call('EXISTS', aliveKey(instance)) == 1 then
      if connStatus == 'online' then return 'online' end
      status = 'idle'
    end
  end
  return status
end

local function forget(userId, connectionId)
  local value = redis.call('HGET', userKey(userId), connectionId)
  if not value then return end
  local _, instance = parse(value)
  redis.call('HDEL', userKey(userId), connectionId)
  redis.call('HDEL', instanceKey(instance), connectionId)
end

-- Drops the instances' connections; answers {userId, previous, current, ...} for each transition.
local function drop(ids)
  local counted, before, users = {}, {}, {}
  for _, id in ipairs(ids) do counted[id] = true end
  for _, id in ipairs(ids) do
    local connections = redis.call('HGETALL', instanceKey(id))
    for i = 1, #connections, 2 do
      local userId = connections[i + 1]
      if not before[userId] then
        before[userId] = aggregate(userId, counted)
        table.insert(users, userId)
      end
    end
  end
  for _, id in ipairs(ids) do
    local connections = redis.call('HGETALL', instanceKey(id))
    for i = 1, #connections, 2 do redis.call('HDEL', userKey(connections[i + 1]), connections[i]) end
    redis.call('DEL', instanceKey(id), aliveKey(id))
    redis.call('SREM', instancesKey, id)
  end
  local changes = {}
  for _, userId in ipairs(users) do
    local current = aggregate(userId, nil)
    if current ~= before[userId] then
      table.insert(changes, userId)
      table.insert(changes, before[userId])
      table.insert(changes, current)
    end
  end
  return changes
end
`;

const script = (body: string) => prelude + body;

const scripts = {
  // ARGV: prefix, userId, connectionId, instanceId, status
  connected: script(`
local userId, connectionId, instance = ARGV[2], ARGV[3], ARGV[4]
local previous = aggregate(userId, nil)
forget(userId, connectionId)
redis.call('HSET', userKey(userId), connectionId, ARGV[5] .. '|' .. instance)
redis.call('HSET', instanceKey(instance), connectionId, userId)
return {previous, aggregate(userId, nil)}`),

  // ARGV: prefix, userId, connectionId
  disconnected: script(`
local previous = aggregate(ARGV[2], nil)
forget(ARGV[2], ARGV[3])
return {previous, aggregate(ARGV[2], nil)}`),

  // ARGV: prefix, userId, connectionId, status
  setStatus: script(`
local userId, connectionId = ARGV[2], ARGV[3]
local previous = aggregate(userId, nil)
local value = redis.call('HGET', userKey(userId), connectionId)
if value then
  local _, instance = parse(value)
  redis.call('HSET', userKey(userId), connectionId, ARGV[4] .. '|' .. instance)
end
return {previous, aggregate(userId, nil)}`),

  // ARGV: prefix, userId...
  statusOf: script(`
local statuses = {}
for i = 2, #ARGV do table.insert(statuses, aggregate(ARGV[i], nil)) end
return statuses`),

  // ARGV: prefix, instanceId, ttlMs. Answers 1 when the instance was known.
  heartbeat: script(`
redis.call('SET', aliveKey(ARGV[2]), '1', 'PX', ARGV[3])
return 1 - redis.call('SADD', instancesKey, ARGV[2])`),

  dropInstance: script(`return drop({ARGV[2]})`),

  sweep: script(`
local lapsed = {}
for _, id in ipairs(redis.call('SMEMBERS', instancesKey)) do
  if redis.call('EXISTS', aliveKey(id)) == 0 then table.insert(lapsed, id) end
end
return drop(lapsed)`),
};

/** The cluster's presence: every signaling instance (and the API, to read it) shares one Redis. */
export class RedisPresenceStore implements PresenceStore {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redisUrl: string, options: RedisPresenceStoreOptions = {}) {
    this.prefix = options.keyPrefix ?? 'concord:';
    // Same failure behaviour as the room registry (see redis.ts): fail fast, don't queue, quiet errors.
    this.redis = new Redis(redisUrl, { connectTimeout: 2_000, commandTimeout: 2_000, maxRetriesPerRequest: 1, disconnectTimeout: 200 });
    this.redis.on('error', () => {});
  }

  async connected(userId: string, connectionId: string, instanceId: string, status: ConnectionPresence = 'online'): Promise<PresenceChange> {
    return change(userId, await this.run(scripts.connected, userId, connectionId, instanceId, status));
  }

  async disconnected(userId: string, connectionId: string): Promise<PresenceChange> {
    return change(userId, await this.run(scripts.disconnected, userId, connectionId));
  }

  async setStatus(userId: string, connectionId: string, status: ConnectionPresence): Promise<PresenceChange> {
    return change(userId, await this.run(scripts.setStatus, userId, connectionId, status));
  }

  async statusOf(userIds: readonly string[]): Promise<Map<string, PresenceStatus>> {
    if (userIds.length === 0) return new Map();
    const statuses = (await this.run(scripts.statusOf, ...userIds)) as unknown[];
    return new Map(userIds.map((userId, i) => [userId, PresenceStatus.parse(statuses[i])]));
  }

  async heartbeat(instanceId: string, ttlMs: number): Promise<boolean> {
    return (await this.run(scripts.heartbeat, instanceId, String(Math.max(1, Math.round(ttlMs))))) === 1;
  }

  async dropInstance(instanceId: string): Promise<PresenceChange[]> {
    return changes(await this.run(scripts.dropInstance, instanceId));
  }

  async sweep(): Promise<PresenceChange[]> {
    return changes(await this.run(scripts.sweep));
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async run(lua: string, ...args: string[]): Promise<unknown> {
    try {
      return await this.redis.eval(lua, 0, this.prefix, ...args);
    } catch (error) {
      throw new ProtocolError('UNAVAILABLE', `presence store: ${(error as Error).message}`);
    }
  }
}

function change(userId: string, reply: unknown): PresenceChange {
  const [previous, current] = reply as [unknown, unknown];
  return { userId, previous: PresenceStatus.parse(previous), current: PresenceStatus.parse(current) };
}

function changes(reply: unknown): PresenceChange[] {
  const flat = reply as string[];
  const result: PresenceChange[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    result.push({ userId: String(flat[i]), previous: PresenceStatus.parse(flat[i + 1]), current: PresenceStatus.parse(flat[i + 2]) });
  }
  return result;
}
