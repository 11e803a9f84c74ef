import type { PresenceStatus } from '@concord/protocol';

/** A stable colour per user, from their id. */
const COLOURS = ['#5865f2', '#3ba55d', '#eb459e', '#faa81a', '#ed4245', '#1abc9c', '#9b59b6', '#e67e22'];
export function colourOf(id: string): string {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return COLOURS[Math.abs(hash) % COLOURS.length]!;
}

export const initials = (name: string) =>
  name
    .trim()
    .split(/\s+/)
    .slice(0, 2)
    .map((word) => [...word][0]?.toUpperCase() ?? '')
    .join('') || '?';

const PRESENCE_LABEL: Record<PresenceStatus, string> = { online: 'Online', idle: 'Idle', offline: 'Offline' };

export function Avatar({
  id,
  name,
  size = 32,
  presence,
  speaking,
}: {
  id: string;
  name: string;
  size?: number;
  presence?: PresenceStatus;
  speaking?: boolean;
}) {
  return (
    <span className={`avatar-wrap${speaking ? ' speaking' : ''}`} style={{ width: size, height: size }}>
      {/* The initials are a picture of the person, not a label: drawn by CSS from data-initials, so
          they are no part of the visible text of a control (a member button, a mention suggestion),
          whose label is the name beside them (WCAG 2.5.3, Label in Name). */}
      <span className="avatar-circle" style={{ background: colourOf(id), fontSize: size * 0.4 }} data-initials={initials(name)} aria-hidden="true" />
      {presence && <span className={`presence-dot ${presence}`} role="img" aria-label={PRESENCE_LABEL[presence]} title={PRESENCE_LABEL[presence]} />}
    </span>
  );
}
