import { WorkerSharePolicy, type TransportPlacementRequest } from './transport-placement';

const request = (routers: [worker: number, transports: number][], streams: number[]): TransportPlacementRequest => ({
  direction: 'recv',
  routers: routers.map(([worker, transports]) => ({ worker, transports })),
  workers: streams.map((count, index) => ({ index, streams: count })),
});

describe('WorkerSharePolicy', () => {
  const byLoad = new WorkerSharePolicy({ workerShare: 100, peersPerRouter: 0 });
  const onePeerPerRouter = new WorkerSharePolicy({ workerShare: 100, peersPerRouter: 1 });

  test.each<[string, WorkerSharePolicy, TransportPlacementRequest, number]>([
    ['a room stays on its home router while its worker is within its share', byLoad, request([[1, 30]], [0, 99]), 1],
    ['the first of the room’s routers within its share, home first', byLoad, request([[1, 5], [0, 5]], [50, 50]), 1],
    ['past its share, a new router on the least-loaded worker without one of the room', byLoad, request([[0, 5]], [100, 80, 20]), 2],
    ['a loaded router of the room is skipped for one within its share', byLoad, request([[0, 5], [2, 1]], [100, 80, 20]), 2],
    ['every worker past its share: the least-loaded of the room’s own workers', byLoad, request([[0, 5], [1, 5]], [130, 120, 500]), 1],
    ['a peer limit per router spreads the room even when load would not', onePeerPerRouter, request([[0, 1]], [2, 0]), 1],
    ['with every router of the room at the peer limit and no worker left: the least loaded', onePeerPerRouter, request([[0, 1], [1, 1]], [2, 4]), 0],
    ['a dead worker (not running) is never chosen', byLoad, request([[1, 3]], [100]), 0],
  ])('%s', (_name, policy, placement, worker) => {
    expect(policy.place(placement)).toBe(worker);
  });
});
