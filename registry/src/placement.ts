import { loadScore, SfuNodeInfo } from '@concord/protocol';

/**
 * The placement rule: among the candidates, the least-loaded node that is not draining and is under
 * capacity; ties go to the node holding fewer rooms, then to the lower id (plain code-unit order, as
 * Lua compares strings under Redis's default C locale).
 *
 * RedisRegistry runs the same rule as the Lua function `pickNode` (redis.ts), because there the
 * choice must run inside Redis to be atomic with the claim. placement.contract.test.ts runs one table
 * of cases through both (`pickNodeFromEntries` here, the Lua through a real Redis): change them together.
 */
export function pickNode(live: readonly SfuNodeInfo[], roomCounts: ReadonlyMap<string, number>): SfuNodeInfo | undefined {
  const rooms = (node: SfuNodeInfo) => roomCounts.get(node.id) ?? 0;
  return live
    .filter(hasHeadroom)
    .sort((a, b) => loadScore(a.load) - loadScore(b.load) || rooms(a) - rooms(b) || (a.id < b.id ? -1 : 1))[0];
}

/** Whether the node takes new rooms and peers: live entries only, not draining and under capacity. */
export const hasHeadroom = (node: SfuNodeInfo): boolean => !node.draining && loadScore(node.load) < node.capacity;

/** A node entry as the registry stores it: its id, its JSON as the node announced it, the rooms it carries. */
export interface NodeEntry {
  id: string;
  json: string;
  rooms: number;
}

/** The rule over raw registry entries: an entry that is not a valid node (garbage announced) is never chosen. */
export function pickNodeFromEntries(entries: readonly NodeEntry[]): string | undefined {
  const nodes = entries.flatMap(({ id, json }) => {
    const node = parseNodeJson(json);
    return node && node.id === id ? [node] : [];
  });
  return pickNode(nodes, new Map(entries.map(({ id, rooms }) => [id, rooms])))?.id;
}

/** A node entry as stored, or null when it is not JSON or does not match the schema. */
export function parseNodeJson(json: unknown): SfuNodeInfo | null {
  if (typeof json !== 'string') return null;
  try {
    const parsed = SfuNodeInfo.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
