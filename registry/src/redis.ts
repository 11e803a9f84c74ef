import { ProtocolError, SfuNodeInfo } from '@concord/protocol';
import { Redis } from 'ioredis';
import type { RoomRegistry } from './registry';

export interface RedisRegistryOptions {
  /** Prepended to every key, so several deployments (or test runs) can share one Redis. Default `concord:`. */
  keyPrefix?: string;
}

/*
 * Keys, all under the prefix:
 *   node:<id>        the node's JSON; expires ttlMs after its last heartbeat
 *   nodes            set of node ids that may still be live (lapsed ones are pruned when next read)
 *   room:<id>        id of the node holding the room
 *   node-rooms:<id>  set of rooms the node holds, always in step with room:<id>; it counts a node's
 *                    rooms for placement and frees them when the node goes
 * Every operation is one script, so each is atomic against all other registry clients. The scripts
 * build node keys from ids they read, so they take the prefix as ARGV[1] instead of declaring KEYS:
 * this needs a single Redis, not Redis Cluster.
 */
const prelude = `
local prefix = ARGV[1]
local nodesKey = prefix .. 'nodes'
local function nodeKey(id) return prefix .. 'node:' .. id end
local function roomKey(id) return prefix .. 'room:' .. id end
local function nodeRoomsKey(id) return prefix .. 'node-rooms:' .. id end

-- Forgets a node and frees its rooms (it deregistered, or its heartbeat lapsed).
local function dropNode(id)
  for _, room in ipairs(redis.call('SMEMBERS', nodeRoomsKey(id))) do redis.call('DEL', roomKey(room)) end
  redis.call('DEL', nodeKey(id), nodeRoomsKey(id))
  redis.call('SREM', nodesKey, id)
end

-- {id, json} of every live node, dropping lapsed ones on the way.
local function liveNodes()
  local live = {}
  for _, id in ipairs(redis.call('SMEMBERS', nodesKey)) do
    local json = redis.call('GET', nodeKey(id))
    if json then table.insert(live, {id, json}) else dropNode(id) end
  end
  return live
end

-- JSON of the live node holding the room, or false.
local function holder(room)
  local id = redis.call('GET', roomKey(room))
  return id and redis.call('GET', nodeKey(id))
end

local function claim(room, id)
  redis.call('SET', roomKey(room), id)
  redis.call('SADD', nodeRoomsKey(id), room)
end
`;

const script = (body: string) => prelude + body;

const scripts = {
  // ARGV[5..]: the rooms the node hosts. Each is claimed for it unless another live node holds it;
  // those are returned. A lapsed holder is dropped first, as liveNodes() would.
  heartbeat: script(`
local id = ARGV[2]
redis.call('SET', nodeKey(id), ARGV[3], 'PX', ARGV[4])
redis.call('SADD', nodesKey, id)
local heldElsewhere = {}
for i = 5, #ARGV do
  local room = ARGV[i]
  local holderId = redis.call('GET', roomKey(room))
  if holderId and holderId ~= id and redis.call('EXISTS', nodeKey(holderId)) == 1 then
    table.insert(heldElsewhere, room)
  else
    if holderId and holderId ~= id then dropNode(holderId) end
    claim(room, id)
  end
end
return heldElsewhere`),

  deregister: script(`dropNode(ARGV[2])`),

  liveNodes: script(`
local jsons = {}
for _, node in ipairs(liveNodes()) do table.insert(jsons, node[2]) end
return jsons`),

  roomNode: script(`return holder(ARGV[2])`),

  // pickNode (placement.ts) re-expressed in Lua: choosing and claiming must be one atomic step.
  placeRoom: script(`
local room = ARGV[2]
local current = holder(room)
if current then return current end
local best, bestId, bestScore, bestRooms
for _, entry in ipairs(liveNodes()) do
  local id, json = entry[1], entry[2]
  local ok, node = pcall(cjson.decode, json)
  -- An entry without the fields ranking needs is corrupt: skip it, as liveNodes() does.
  if ok and type(node) == 'table' and node.draining == false and type(node.capacity) == 'number'
      and type(node.load) == 'table' and type(node.load.producers) == 'number' and type(node.load.consumers) == 'number' then
    local score = node.load.producers + node.load.consumers
    local rooms = redis.call('SCARD', nodeRoomsKey(id))
    if score < node.capacity and (not best or score < bestScore
        or (score == bestScore and (rooms < bestRooms or (rooms == bestRooms and id < bestId)))) then
      best, bestId, bestScore, bestRooms = json, id, score, rooms
    end
  end
end
if not best then return false end
claim(room, bestId)
return best`),

  releaseRoom: script(`
local room, id = ARGV[2], ARGV[3]
if redis.call('GET', roomKey(room)) == id then
  redis.call('DEL', roomKey(room))
  redis.call('SREM', nodeRoomsKey(id), room)
end`),
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
    return jsons.map(parseNode).filter((node) => node !== null);
  }

  async placeRoom(roomId: string): Promise<SfuNodeInfo> {
    const node = parseNode(await this.run(scripts.placeRoom, roomId));
    if (!node) throw new ProtocolError('UNAVAILABLE', 'no SFU node can take this room');
    return node;
  }

  async roomNode(roomId: string): Promise<SfuNodeInfo | null> {
    return parseNode(await this.run(scripts.roomNode, roomId));
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

/** A node entry as stored, or null when there is none or it does not match the schema. */
function parseNode(json: unknown): SfuNodeInfo | null {
  if (typeof json !== 'string') return null;
  try {
    const parsed = SfuNodeInfo.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
