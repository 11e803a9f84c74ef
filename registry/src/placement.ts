import { loadScore, type SfuNodeInfo } from '@concord/protocol';

/**
 * The placement rule: the least-loaded live node that is not draining and is under capacity; ties go
 * to the node holding fewer rooms, then to the lower id (plain code-unit order, as Lua compares
 * strings under Redis's default C locale).
 *
 * RedisRegistry's Lua script re-expresses this rule, because there the choice must run inside Redis
 * to be atomic with the claim: change the two together.
 */
export function pickNode(live: readonly SfuNodeInfo[], roomCounts: ReadonlyMap<string, number>): SfuNodeInfo | undefined {
  const rooms = (node: SfuNodeInfo) => roomCounts.get(node.id) ?? 0;
  return live
    .filter((n) => !n.draining && loadScore(n.load) < n.capacity)
    .sort((a, b) => loadScore(a.load) - loadScore(b.load) || rooms(a) - rooms(b) || (a.id < b.id ? -1 : 1))[0];
}
