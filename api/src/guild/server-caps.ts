import type { Queryable } from '../db';
import { forbidden } from './views';

/** The most servers one user may be a member of (owned ones included), and may own. */
export interface ServerCaps {
  joined: number;
  owned: number;
}

/** Discord's 100 joined; owning is rarer, and each owned server is a set of rows to keep. */
export const DEFAULT_SERVER_CAPS: ServerCaps = { joined: 100, owned: 50 };

/**
 * In the transaction that makes `userId` a member of one more server (its owner, when creating
 * one): locks the user's row, so that one user's concurrent creates and joins are counted one
 * after another and cannot overshoot together, then refuses past a cap with 403 and the reason.
 */
export async function ensureRoomForAnotherServer(tx: Queryable, userId: string, caps: ServerCaps, owning: boolean): Promise<void> {
  await tx.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
  const counts = await tx.one<{ joined: number; owned: number }>(
    'SELECT (SELECT count(*)::int FROM members WHERE user_id = $1) AS joined, (SELECT count(*)::int FROM servers WHERE owner_id = $1) AS owned',
    [userId],
  );
  if (counts.joined >= caps.joined) throw forbidden(`you are in ${counts.joined} servers, the most one account may be in (${caps.joined}): leave one first`);
  if (owning && counts.owned >= caps.owned) throw forbidden(`you own ${counts.owned} servers, the most one account may own (${caps.owned}): delete one first`);
}
