import { z } from 'zod';

/** What an SFU node publishes about itself in the room registry (and refreshes every heartbeat). */
export const NodeLoad = z.object({
  workers: z.number().int().nonnegative(),
  routers: z.number().int().nonnegative(),
  transports: z.number().int().nonnegative(),
  producers: z.number().int().nonnegative(),
  consumers: z.number().int().nonnegative(),
});
export type NodeLoad = z.infer<typeof NodeLoad>;

export const SfuNodeInfo = z.object({
  id: z.string().min(1).max(128),
  /** socket.io URL of the node's control interface, e.g. http://10.0.0.5:4443 */
  controlUrl: z.string().url(),
  /** Most streams (producers + consumers) the node accepts before it takes no new rooms. */
  capacity: z.number().int().positive(),
  load: NodeLoad,
  draining: z.boolean(),
  startedAt: z.number(),
});
export type SfuNodeInfo = z.infer<typeof SfuNodeInfo>;

/** The number placement compares: streams carried. */
export const loadScore = (load: NodeLoad): number => load.producers + load.consumers;
