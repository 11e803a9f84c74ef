import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { CSSProperties, RefObject } from 'react';
import { mayProduce, Permission } from '@concord/protocol';
import type { ChannelView } from '@concord/protocol';
import { useServices, useVoice } from '../app/context';
import type { ParticipantView } from '../call/participant';
import type { CallRoom, CallSnapshot } from '../call/room';
import { Avatar } from '../ui/Avatar';
import {
  Gear,
  Headphones,
  HeadphonesOff,
  Maximize,
  Mic,
  MicOff,
  Minimize,
  PhoneOff,
  Screen,
  SpeakerIcon,
  Video,
  VideoOff,
} from '../ui/icons';
import { layoutTiles } from './layout';
import type { Box } from './layout';
import { TrackAudio, TrackVideo } from './media';
import { CallError } from './CallError';
import { keyName } from './push-to-talk';
import { VoiceState } from './VoiceState';

export type TileSource = 'camera' | 'screen';
const tileKey = (participantId: string, source: TileSource) => `${participantId}:${source}`;

/** A voice channel: the join card when we are not in it, the call when we are. */
export function CallPane({ channel }: { channel: ChannelView }) {
  const { store, voice } = useServices();
  const view = useVoice();
  const here = view.channelId === channel.id && view.call !== null;
  const canConnect = store.can(channel.serverId, Permission.CONNECT, channel.id);

  if (!here || !voice.currentRoom || !view.call) {
    // Joined, while the call's code is still on its way (it loads on the first join).
    const starting = view.channelId === channel.id;
    const elsewhere = view.channelId && !starting ? store.channel(view.channelId) : undefined;
    return (
      <section className="call-lobby" aria-label={`Voice channel ${channel.name}`}>
        <VoiceState state={starting ? 'connecting' : 'disconnected'} />
        <span className="lobby-icon" aria-hidden="true">
          <SpeakerIcon size={48} />
        </span>
        <h2>{channel.name}</h2>
        <p className="muted">
          {starting
            ? 'Joining…'
            : canConnect
            ? elsewhere
              ? `You are in ${elsewhere.name}. Joining here leaves it.`
              : 'No one can hear or see you until you join.'
            : 'You do not have permission to join this voice channel.'}
        </p>
        <CallError className="error" />
        {starting ? (
          <button className="big" data-testid="voice-leave" onClick={() => voice.leave()}>
            Cancel
          </button>
        ) : (
          <button className="primary big" data-testid="voice-join" disabled={!canConnect} onClick={() => voice.join(channel.serverId, channel.id)}>
            Join voice
          </button>
        )}
      </section>
    );
  }
  return <Call room={voice.currentRoom} snapshot={view.call} serverId={channel.serverId} />;
}

function Call({ room, snapshot, serverId }: { room: CallRoom; snapshot: CallSnapshot; serverId: string }) {
  const { store } = useServices();
  const view = useVoice();
  const [focused, setFocused] = useState<string | null>(null);

  // A camera tile for everyone, and a tile of its own for every screen being shared (screens first).
  const tiles = [
    ...snapshot.participants.filter((p) => p.tracks.screen).map((participant) => ({ participant, source: 'screen' as const })),
    ...snapshot.participants.map((participant) => ({ participant, source: 'camera' as const })),
  ];
  const focus = focused && tiles.some((t) => tileKey(t.participant.id, t.source) === focused) ? focused : null;
  const stage = useRef<HTMLDivElement>(null);
  const size = useSize(stage);
  const boxes = layoutTiles(
    tiles.map((t) => tileKey(t.participant.id, t.source)),
    focus,
    size.width,
    size.height,
  );

  return (
    <section className="call" aria-label="Call">
      <div className="call-top">
        <VoiceState state={snapshot.state} />
        <CallError />
      </div>
      <div className={`stage${focus ? ' has-focus' : ''}`} data-count={tiles.length} ref={stage}>
        {tiles.map(({ participant, source }) => {
          const key = tileKey(participant.id, source);
          return (
            <ParticipantTile
              key={key}
              room={room}
              participant={participant}
              name={store.displayName(participant.id, serverId)}
              source={source}
              focused={focus === key}
              box={boxes.get(key)}
              active={participant.id === snapshot.activeSpeakerId && !participant.isLocal}
              deafened={snapshot.media.deafened}
              speaker={view.preferences.speaker}
              onFocus={() => setFocused(focus === key ? null : key)}
            />
          );
        })}
      </div>
      <Controls room={room} snapshot={snapshot} />
    </section>
  );
}

/**
 * One participant's camera or screen. Remote sound plays here too: the microphone in the camera
 * tile, the screen's audio in the screen tile. Our own sound is never played back. A remote video
 * that is not on screen (scrolled away, call hidden, tab hidden) is paused on the server.
 */
function ParticipantTile({
  room,
  participant,
  name,
  source,
  focused,
  box,
  active,
  deafened,
  speaker,
  onFocus,
}: {
  room: CallRoom;
  participant: ParticipantView;
  name: string;
  source: TileSource;
  focused: boolean;
  box: Box | undefined;
  active: boolean;
  deafened: boolean;
  speaker: string | undefined;
  onFocus: () => void;
}) {
  const { tracks, isLocal } = participant;
  const video = tracks[source];
  const audio = isLocal ? undefined : tracks[source === 'camera' ? 'mic' : 'screen-audio'];
  const micMuted = source === 'camera' && (!tracks.mic || tracks.mic.paused);
  const ref = useRef<HTMLElement>(null);
  useReceiveWhenVisible(ref, room, participant.id, source, !isLocal);
  const label = `${name}${isLocal ? ' (you)' : ''}${source === 'screen' ? ', screen' : ''}`;
  const classes = ['tile', source, participant.speaking && source === 'camera' && 'speaking', active && 'active', focused && 'focused'].filter(Boolean).join(' ');
  const style: CSSProperties = box ? { left: box.left, top: box.top, width: box.width, height: box.height } : { visibility: 'hidden' };

  return (
    <figure
      ref={ref}
      className={classes}
      style={style}
      data-testid="participant-tile"
      data-user-id={participant.id}
      data-source={source}
      data-local={String(isLocal)}
      data-speaking={String(participant.speaking)}
      data-video={String(!!video)}
      data-focused={String(focused)}
    >
      {video && <TrackVideo track={video.track} mirrored={isLocal && source === 'camera'} label={label} />}
      {!video && (
        <div className="avatar">
          <Avatar id={participant.id} name={name} size={80} speaking={participant.speaking} />
        </div>
      )}
      {audio && <TrackAudio track={audio.track} muted={deafened} speaker={speaker} />}
      <figcaption>
        {micMuted && (
          <span className="muted-mic" role="img" aria-label="Microphone off" title="Microphone off">
            <MicOff size={14} />
          </span>
        )}
        <span className="ellipsis">{label}</span>
        {source === 'screen' && <span className="live-badge">LIVE</span>}
      </figcaption>
      <button
        className="icon-button tile-focus"
        aria-label={focused ? `Exit full view of ${label}` : `Show ${label} in full view`}
        aria-pressed={focused}
        data-testid="tile-focus"
        onClick={onFocus}
      >
        {focused ? <Minimize size={18} /> : <Maximize size={18} />}
      </button>
    </figure>
  );
}

/** The element's content size, kept current. */
function useSize(ref: RefObject<HTMLElement | null>): { width: number; height: number } {
  const [size, setSize] = useState({ width: 0, height: 0 });
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    const measure = () => setSize({ width: element.clientWidth, height: element.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return size;
}

function useReceiveWhenVisible(ref: RefObject<HTMLElement | null>, room: CallRoom, peerId: string, source: TileSource, remote: boolean) {
  useEffect(() => {
    const element = ref.current;
    if (!remote || !element) return;
    let intersecting = true;
    const apply = () => room.setReceiving(peerId, source, intersecting && document.visibilityState === 'visible');
    const observer = new IntersectionObserver((entries) => {
      intersecting = entries.some((entry) => entry.isIntersecting);
      apply();
    });
    observer.observe(element);
    document.addEventListener('visibilitychange', apply);
    return () => {
      observer.disconnect();
      document.removeEventListener('visibilitychange', apply);
      // The call is off screen (another channel is shown) or the tile is gone.
      room.setReceiving(peerId, source, false);
    };
  }, [ref, room, peerId, source, remote]);
}

type Control = 'mic' | 'camera' | 'screen' | 'deafen';

/** Call controls; aria-pressed tells whether the microphone, camera or screen share is on, or whether we are deafened. */
function Controls({ room, snapshot }: { room: CallRoom; snapshot: CallSnapshot }) {
  const { voice, openDialog } = useServices();
  const view = useVoice();
  const [busy, setBusy] = useState<Control | null>(null);
  const { media, permissions, state } = snapshot;
  const idle = busy === null && state !== 'connecting';
  const ptt = view.preferences.pushToTalk;

  const run = (control: Control, action: () => Promise<void>) => () => {
    setBusy(control);
    void action().finally(() => setBusy(null));
  };

  return (
    <div className="controls" role="toolbar" aria-label="Call controls">
      <button
        className={`round${media.mic ? '' : ' off'}`}
        data-testid="toggle-mic"
        aria-pressed={media.mic}
        aria-label={ptt ? `Push to talk (${keyName(view.preferences.pushToTalkKey)})` : media.mic ? 'Mute' : 'Unmute'}
        title={ptt ? `Push to talk: hold ${keyName(view.preferences.pushToTalkKey)}` : media.mic ? 'Mute' : 'Unmute'}
        disabled={!idle || (!media.mic && !permissions.speak)}
        onClick={run('mic', () => room.toggleMic())}
      >
        {media.mic ? <Mic /> : <MicOff />}
      </button>
      <button
        className={`round${media.deafened ? ' off' : ''}`}
        data-testid="toggle-deafen"
        aria-pressed={media.deafened}
        aria-label={media.deafened ? 'Undeafen' : 'Deafen'}
        title={media.deafened ? 'Undeafen' : 'Deafen'}
        disabled={busy !== null}
        onClick={run('deafen', () => room.toggleDeafen())}
      >
        {media.deafened ? <HeadphonesOff /> : <Headphones />}
      </button>
      <button
        className={`round${media.camera ? ' on' : ''}`}
        data-testid="toggle-camera"
        aria-pressed={media.camera}
        aria-label={media.camera ? 'Turn off camera' : 'Turn on camera'}
        title={permissions.video || media.camera ? (media.camera ? 'Turn off camera' : 'Turn on camera') : 'You may not use your camera here'}
        disabled={!idle || (!media.camera && !permissions.video)}
        onClick={run('camera', () => room.toggleCamera())}
      >
        {media.camera ? <Video /> : <VideoOff />}
      </button>
      <button
        className={`round${media.screen ? ' on' : ''}`}
        data-testid="toggle-screen"
        aria-pressed={media.screen}
        aria-label={media.screen ? 'Stop sharing your screen' : 'Share your screen'}
        title={mayProduce(permissions, 'screen') || media.screen ? (media.screen ? 'Stop sharing' : 'Share your screen') : 'You may not share your screen here'}
        disabled={!idle || (!media.screen && !mayProduce(permissions, 'screen'))}
        onClick={run('screen', () => room.toggleScreen())}
      >
        <Screen />
      </button>
      <button className="round" aria-label="Voice and video settings" title="Voice and video settings" data-testid="voice-settings" onClick={() => openDialog({ kind: 'user-settings' })}>
        <Gear />
      </button>
      <button className="round danger" data-testid="voice-leave" aria-label="Leave the call" title="Leave" onClick={() => voice.leave()}>
        <PhoneOff />
      </button>
    </div>
  );
}
