import { ProtocolError } from '@concord/protocol';

/** Media capture failures, by DOMException name. */
const MEDIA: Record<string, string> = {
  NotAllowedError: 'Access to your camera, microphone or screen was denied.',
  NotFoundError: 'No camera or microphone was found.',
  NotReadableError: 'Your camera or microphone is in use by another application.',
  OverconstrainedError: 'Your camera does not support the requested settings.',
};

/** One sentence for people, whatever failed. */
export function describeError(error: unknown): string {
  // Server messages are written for people, except that of an internal error.
  if (error instanceof ProtocolError) return error.code === 'INTERNAL' ? 'Something went wrong on the server. Try again.' : error.message;
  if (error instanceof DOMException && MEDIA[error.name]) return MEDIA[error.name] as string;
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong. Try again.';
}
