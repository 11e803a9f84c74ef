import type { CallRoom, CallSnapshot } from '../call/room';
import { Controls } from './Controls';
import { ParticipantTile } from './ParticipantTile';
import type { TileSource } from './ParticipantTile';

/** The tile grid: a camera tile for everyone, plus a tile for every screen being shared. */
export function CallView({ room, snapshot }: { room: CallRoom; snapshot: CallSnapshot }) {
  const tiles = snapshot.participants.flatMap((participant) => {
    const sources: TileSource[] = participant.tracks.screen ? ['screen', 'camera'] : ['camera'];
    return sources.map((source) => ({ participant, source }));
  });

  return (
    <main className="call">
      <section className="grid" data-count={tiles.length}>
        {tiles.map(({ participant, source }) => (
          <ParticipantTile
            key={`${participant.id}:${source}`}
            participant={participant}
            source={source}
            active={participant.id === snapshot.activeSpeakerId && !participant.isLocal}
          />
        ))}
      </section>
      <Controls room={room} snapshot={snapshot} />
    </main>
  );
}
