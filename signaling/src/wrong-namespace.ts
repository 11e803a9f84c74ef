import { fail, ProtocolError } from '@concord/protocol';
import type { AnySignalingSocket } from './types';

/**
 * Answers the requests of the other namespace with BAD_REQUEST naming the right one, instead of
 * leaving them unanswered until the client's timeout: what a client built before the namespaces
 * split (or a misdirected one) hears.
 */
export function refuseRequestsOf(socket: AnySignalingSocket, requests: readonly string[], namespace: string): void {
  socket.onAny((event: string, ...args: unknown[]) => {
    const ack = args.at(-1);
    if (!requests.includes(event) || typeof ack !== 'function') return;
    ack(fail(new ProtocolError('BAD_REQUEST', `${event} is served on the ${namespace} namespace`)));
  });
}
