import pino from 'pino';
import { evacuate, nextBatch, type EvacuatedRoom } from './evacuation';

const logger = pino({ level: 'silent' });
const room = (id: string, peerCount: number): EvacuatedRoom => ({ id, peerCount });

/** A node's rooms, moved when told; the clock advances only by the evacuation's own sleeps. */
function site(rooms: EvacuatedRoom[], elsewhere: boolean[] = []) {
  const open = new Map(rooms.map((r) => [r.id, r]));
  const moves: string[][] = [];
  let clock = 0;
  let batch: string[] = [];
  return {
    moves,
    now: () => clock,
    sleep: async (ms: number) => {
      if (batch.length) moves.push(batch);
      batch = [];
      clock += ms;
    },
    flush: () => {
      if (batch.length) moves.push(batch);
      batch = [];
    },
    site: {
      rooms: () => [...open.values()],
      elsewhere: async () => elsewhere.shift() ?? true,
      move: async (id: string) => {
        open.delete(id);
        batch.push(id);
      },
    },
  };
}

test('batches are whole rooms up to the peer budget, largest first; a larger room goes alone', () => {
  expect(nextBatch([room('a', 3), room('b', 30), room('c', 2), room('d', 4)], 8).map((r) => r.id)).toEqual(['b']);
  expect(nextBatch([room('a', 3), room('c', 2), room('d', 4)], 8).map((r) => r.id)).toEqual(['d', 'a']);
  expect(nextBatch([room('c', 2)], 8).map((r) => r.id)).toEqual(['c']);
});

test('moves every room in steps, pausing between them', async () => {
  const s = site([room('a', 4), room('b', 4), room('c', 4)]);
  const report = await evacuate(s.site, { deadline: 60_000, batchPeers: 8, intervalMs: 1_000, logger, sleep: s.sleep, now: s.now });
  s.flush();
  expect(s.moves).toEqual([['a', 'b'], ['c']]);
  expect(report).toEqual({ moved: 3, batches: 2, forced: 0 });
  expect(s.now()).toBe(1_000);
});

test('waits while no other node can take the rooms, and moves what is left at the deadline', async () => {
  const s = site([room('a', 2), room('b', 2)], [false, false, false, false, false]);
  const report = await evacuate(s.site, { deadline: 3_000, batchPeers: 2, intervalMs: 1_000, logger, sleep: s.sleep, now: s.now });
  s.flush();
  expect(s.now()).toBe(3_000);
  expect(s.moves).toEqual([['a', 'b']]);
  expect(report).toEqual({ moved: 0, batches: 0, forced: 2 });
});
