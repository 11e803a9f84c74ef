import { ProtocolError, type SfuNodeInfo } from '@concord/protocol';
import { Redis } from 'ioredis';
import { parseNodeJson, type NodeEntry } from './placement';
import type { RoomRegistry } from './registry';

export interface RedisRegistryOptions {
  /** Prepended to every key, so several deployments (or test runs) can share one Redis. Default `concord:`. */
  keyPrefix?: string;
}

/*
 * Keys, all under the prefix:
 *   node:<id>        the node's JSON; expires ttlMs after its last heartbeat
 *   nodes            set of node ids that may still be live (lapsed ones are pruned when next read)
 *   room:<id>        id of the room's primary node (one of room-nodes:<id>)
 *   room-nodes:<id>  set of the nodes carrying the room (a room outgrowing a node continues on more)
 *   node-rooms:<id>  set of rooms the node carries, always in step with room-nodes; it counts a
 *                    node's rooms for placement and frees them when the node goes
 * Every operation is one script, so each is atomic against all other registry clients. The scripts
 * build node keys from ids they read, so they take the prefix as ARGV[1] instead of declaring KEYS:
 * this needs a single Redis, not Redis Cluster.
 */
const prelude = `
local prefix = ARGV[1]
local nodesKey = prefix .. 'nodes'
local function nodeKey(id) return prefix .. 'node:' .. id end
local function roomKey(id) return prefix .. 'room:' .. id end
local function roomNodesKey(id) return prefix .. 'room-nodes:' .. id end
local function nodeRoomsKey(id) return prefix .. 'node-rooms:' .. id end

local function join(room, id)
  redis.call('SADD', roomNodesKey(room), id)
  redis.call('SADD', nodeRoomsKey(id), room)
  if not redis.call('GET', roomKey(room)) then redis.call('SET', roomKey(room), id) end
end

-- The node no longer carries the room; a primary leaving hands the room to another node carrying it.
local function leave(room, id)
  redis.call('SREM', roomNodesKey(room), id)
  redis.call('SREM', nodeRoomsKey(id), room)
  if redis.call('GET', roomKey(room)) == id then
    local successor = redis.call('SRANDMEMBER', roomNodesKey(room))
    if successor then redis.call('SET', roomKey(room), successor) else redis.call('DEL', roomKey(room)) end
  end
end

-- Forgets a node and frees its rooms (it deregistered, or its heartbeat lapsed).
local function dropNode(id)
  for _, room in ipairs(redis.call('SMEMBERS', nodeRoomsKey(id))) do leave(room, id) end
  redis.call('DEL', nodeKey(id), nodeRoomsKey(id))
  redis.call('SREM', nodesKey, id)
end

-- {id, json, rooms} of a live node, or nil.
local function entry(id)
  local json = redis.call('GET', nodeKey(id))
  if json then return {id, json, redis.call('SCARD', nodeRoomsKey(id))} end
end

-- Entries of every live node, dropping lapsed ones on the way.
local function liveEntries()
  local live = {}
  for _, id in ipairs(redis.call('SMEMBERS', nodesKey)) do
    local e = entry(id)
    if e then table.insert(live, e) else dropNode(id) end
  end
  return live
end

local function isCount(value) return type(value) == 'number' and value >= 0 and value == math.floor(value) end

-- The node of an entry if it is one (the checks SfuNodeInfo makes in TypeScript), else nil: garbage is never placed on.
local function validNode(e)
  local ok, node = pcall(cjson.decode, e[2])
  if not ok or type(node) ~= 'table' or node.id ~= e[1] or type(node.controlUrl) ~= 'string'
      or not string.match(node.controlUrl, '^https?://[^%s]+$')
      or type(node.draining) ~= 'boolean' or type(node.startedAt) ~= 'number'
      or not isCount(node.capacity) or node.capacity == 0 or type(node.load) ~= 'table' then return nil end
  for _, field in ipairs({'workers', 'routers', 'transports', 'producers', 'consumers'}) do
    if not isCount(node.load[field]) then return nil end
  end
  return node
end

-- The placement rule, as pickNode in placement.ts (the contract test holds the two together): the
-- least-loaded entry not draining and under capacity; ties to fewer rooms, then the lower id.
local function pickNode(entries)
  local best, bestScore
  for _, e in ipairs(entries) do
    local node = validNode(e)
    if node and node.draining == false then
      local score = node.load.producers + node.load.consumers
      if score < node.capacity and (not best or score < bestScore
          or (score == bestScore and (e[3] < best[3] or (e[3] == best[3] and e[1] < best[1])))) then
        best, bestScore = e, score
      end
    end
  end
  return best
end

-- JSON of the live primary of the room, or false.
local function holder(room)
  local id = redis.call('GET', roomKey(room))
  return id and redis.call('GET', nodeKey(id))
end
`;

const script = (body: string) => prelude + body;

const scripts = {
  // ARGV[5..]: the rooms the node hosts. Each is joined for it unless it carries it already or
  // another live node holds it without it; those are returned. A lapsed holder is dropped first.
  heartbeat: script(`
local id = ARGV[2]
redis.call('SET', nodeKey(id), ARGV[3], 'PX', ARGV[4])
redis.call('SADD', nodesKey, id)
local heldElsewhere = {}
for i = 5, #ARGV do
  local room = ARGV[i]
  if redis.call('SISMEMBER', roomNodesKey(room), id) == 0 then
    local holderId = redis.call('GET', roomKey(room))
    if holderId and redis.call('EXISTS', nodeKey(holderId)) == 1 then
      table.insert(heldElsewhere, room)
    else
      if holderId then dropNode(holderId) end
      join(room, id)
    end
  end
end
return heldElsewhere`),

  deregister: script(`dropNode(ARGV[2])`),

  liveNodes: script(`
local jsons = {}
for _, e in ipairs(liveEntries()) do table.insert(jsons, e[2]) end
return jsons`),

  roomNode: script(`return holder(ARGV[2])`),

  roomNodes: script(`
local room = ARGV[2]
local primary = redis.call('GET', roomKey(room))
local jsons = {}
for _, id in ipairs(redis.call('SMEMBERS', roomNodesKey(room))) do
  local json = redis.call('GET', nodeKey(id))
  if json and id == primary then table.insert(jsons, 1, json) elseif json then table.insert(jsons, json) end
end
return jsons`),

  // ARGV[3..]: nodes to pass over (they refused the peer for capacity).
  placePeer: script(`
local room = ARGV[2]
local excluded = {}
for i = 3, #ARGV do excluded[ARGV[i]] = true end
local carrying = {}
for _, id in ipairs(redis.call('SMEMBERS', roomNodesKey(room))) do
  local e = entry(id)
  if not e then leave(room, id) elseif not excluded[id] then table.insert(carrying, e) end
end
local primaryId = redis.call('GET', roomKey(room))
for _, e in ipairs(carrying) do
  if e[1] == primaryId and pickNode({e}) then return e[2] end
end
local joined = pickNode(carrying)
if joined then return joined[2] end
local fresh = {}
for _, e in ipairs(liveEntries()) do
  if not excluded[e[1]] and redis.call('SISMEMBER', roomNodesKey(room), e[1]) == 0 then table.insert(fresh, e) end
end
local best = pickNode(fresh)
if not best then return false end
join(room, best[1])
return best[2]`),

  releaseRoom: script(`
local room, id = ARGV[2], ARGV[3]
if redis.call('SISMEMBER', roomNodesKey(room), id) == 1 then leave(room, id) end`),

  // ARGV[2..]: JSON array of {id, json, rooms}. The rule alone, for the contract test.
  pickNode: script(`
local entries = {}
for _, e in ipairs(cjson.decode(ARGV[2])) do table.insert(entries, {e.id, e.json, e.rooms}) end
local best = pickNode(entries)
return best and best[1]`),
};

/** The cluster registry: every signaling server and SFU node shares one Redis. */
export class RedisRegistry implements RoomRegistry {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redisUrl: string, options: RedisRegistryOptions = {}) {
    this.prefix = options.keyPrefix ?? 'concord:';
    this.redis = new Redis(redisUrl, {
      // When Redis is down, calls fail within seconds instead of queueing until it returns: a join
      // should get UNAVAILABLE, and heartbeats retry on their own schedule anyway.
      connectTimeout: 2_000,
      commandTimeout: 2_000,
      maxRetriesPerRequest: 1,
      // ioredis arms this timer on disconnect even when the socket has already failed, and it then
      // holds the process open at shutdown for its whole length (2 s by default).
      disconnectTimeout: 200,
    });
    // Failures reach callers as rejected calls; without a listener ioredis would also print each one.
    this.redis.on('error', () => {});
  }

  async heartbeat(node: SfuNodeInfo, ttlMs: number, hostedRooms: readonly string[] = []): Promise<string[]> {
    return (await this.run(scripts.heartbeat, node.id, JSON.stringify(node), String(ttlMs), ...hostedRooms)) as string[];
  }

  async deregister(nodeId: string): Promise<void> {
    await this.run(scripts.deregister, nodeId);
  }

  async liveNodes(): Promise<SfuNodeInfo[]> {
    const jsons = (await this.run(scripts.liveNodes)) as string[];
    return jsons.map(parseNodeJson).filter((node) => node !== null);
  }

  async placePeer(roomId: string, exclude: readonly string[] = []): Promise<SfuNodeInfo> {
    const node = parseNodeJson(await this.run(scripts.placePeer, roomId, ...exclude));
    if (!node) throw new ProtocolError('UNAVAILABLE', 'no SFU node can take this peer');
    return node;
  }

  async roomNodes(roomId: string): Promise<SfuNodeInfo[]> {
    const jsons = (await this.run(scripts.roomNodes, roomId)) as string[];
    return jsons.map(parseNodeJson).filter((node) => node !== null);
  }

  /** The placement rule as the Lua scripts run it, over raw entries: for the contract test with placement.ts. */
  async pickNodeInRedis(entries: readonly NodeEntry[]): Promise<string | undefined> {
    return ((await this.run(scripts.pickNode, JSON.stringify(entries))) as string | null) ?? undefined;
  }

  async roomNode(roomId: string): Promise<SfuNodeInfo | null> {
    return parseNodeJson(await this.run(scripts.roomNode, roomId));
  }

  async releaseRoom(roomId: string, nodeId: string): Promise<void> {
    await this.run(scripts.releaseRoom, roomId, nodeId);
  }

  async close(): Promise<void> {
    // quit() rejects once the connection has ended; disconnect() then stops any reconnecting.
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async run(lua: string, ...args: string[]): Promise<unknown> {
    try {
      return await this.redis.eval(lua, 0, this.prefix, ...args);
    } catch (error) {
      throw new ProtocolError('UNAVAILABLE', `room registry: ${(error as Error).message}`);
    }
  }
}
