import type { ParticipantView } from '../call/participant';
import { TrackAudio, TrackVideo } from './media';

export type TileSource = 'camera' | 'screen';

/**
 * One participant's camera or screen. Remote sound plays here too: the microphone in the camera
 * tile, the screen's audio in the screen tile. Our own sound is never played back.
 */
export function ParticipantTile({ participant, source, active }: { participant: ParticipantView; source: TileSource; active: boolean }) {
  const { tracks, isLocal } = participant;
  const video = tracks[source];
  const audio = isLocal ? undefined : tracks[source === 'camera' ? 'mic' : 'screen-audio'];
  const micMuted = source === 'camera' && (!tracks.mic || tracks.mic.paused);
  const classes = ['tile', source, participant.speaking && 'speaking', active && 'active'].filter(Boolean).join(' ');

  return (
    <figure
      className={classes}
      data-testid="participant-tile"
      data-user-id={participant.id}
      data-source={source}
      data-local={String(isLocal)}
      data-speaking={String(participant.speaking)}
    >
      <TrackVideo track={video?.track} mirrored={isLocal && source === 'camera'} />
      {!video && <div className="avatar">{participant.displayName.slice(0, 1).toUpperCase()}</div>}
      {audio && <TrackAudio track={audio.track} />}
      <figcaption>
        {participant.displayName}
        {isLocal && ' (you)'}
        {source === 'screen' && ' · screen'}
        {micMuted && (
          <span className="muted-mic" title="Microphone off">
            mic off
          </span>
        )}
      </figcaption>
    </figure>
  );
}
