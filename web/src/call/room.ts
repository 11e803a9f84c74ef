import { DISPLACED_REASON, mayProduce, NODE_DRAINING_REASON, ProducerSource, ProtocolError } from '@concord/protocol';
import type { IceServer, PeerInfo, VoicePermissions, VoiceRemovedReason } from '@concord/protocol';
import { TypedEmitter } from './emitter';
import { RemoteParticipant } from './participant';
import type { ParticipantView, TrackView } from './participant';
import { DefaultReconnectPolicy } from './reconnect-policy';
import type { ReconnectPolicy, ReconnectReason } from './reconnect-policy';
import { Device } from 'mediasoup-client';
import { CallSession } from './session';
import type { SessionObserver } from './session';
import { SignalingClient } from './signaling-client';
import type { SignalingSocket } from './signaling-client';
import { LocalMedia } from './tracks';

export type CallState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export interface CallRoomOptions {
  /** A signaling socket, not yet connected (see openSignalingSocket); the room drives and closes it. */
  socket: SignalingSocket;
  /** Our own name, for the local participant (the server tells it to the others). */
  displayName: string;
  /** Fetches a fresh voice grant for the room from the API; called before every (re)join. */
  fetchGrant(roomId: string): Promise<{ grant: string; iceServers?: IceServer[] }>;
  /** `relay`: media only through the grant's TURN servers (hides the user's address; tests TURN). Default `all`. */
  iceTransportPolicy?: RTCIceTransportPolicy;
  policy?: ReconnectPolicy;
  /** The capture devices to use (default: the browser's). */
  devices?: { mic?: string; camera?: string };
  /** What join() starts with: the microphone (muted if `startMuted`) and the camera unless `startCamera` is false. */
  initialMedia?: { startMuted?: boolean; startCamera?: boolean };
  /** Builds the mediasoup Device of each session (default: detected from the browser). */
  createDevice?: () => Device;
}

/** An immutable picture of the call, for rendering. Local participant first. */
export interface CallSnapshot {
  readonly state: CallState;
  readonly roomId: string;
  readonly participants: readonly ParticipantView[];
  readonly permissions: VoicePermissions;
  readonly media: { readonly mic: boolean; readonly camera: boolean; readonly screen: boolean; readonly deafened: boolean };
  readonly activeSpeakerId: string | null;
}

export type CallRoomEvents = {
  /** Anything in the snapshot changed. */
  changed: [];
  /** Something failed; the call goes on unless the state says otherwise. */
  error: [Error];
};

const NO_PERMISSIONS: VoicePermissions = { speak: false, video: false, screen: false };
const FORBIDDEN_TO: Record<ProducerSource, string> = {
  mic: 'speak',
  camera: 'use your camera',
  screen: 'share your screen',
  'screen-audio': 'share your screen',
};
/** What the user is told when the server takes them out of the call. */
const REMOVED_BECAUSE: Record<VoiceRemovedReason, string> = {
  kicked: 'You were removed from this server, so you left the call.',
  banned: 'You were banned from this server, so you left the call.',
  'left-server': 'You left this server, so you left the call.',
  'access-revoked': 'You may no longer join this voice channel, so you left the call.',
  'channel-deleted': 'This voice channel was deleted; the call has ended.',
  'server-deleted': 'This server was deleted; the call has ended.',
};
const interrupted = () => new ProtocolError('UNAVAILABLE', 'The call was interrupted.');
/** After a move, what the new session has not brought back by then (a camera turned off meanwhile) goes. */
const STALE_TRACK_MS = 3_000;

/**
 * A call in one room: the state machine, the participants and the user's own media, and the
 * recovery of a lost call. One instance serves one join(); after leave() or a final failure it
 * stays 'disconnected'.
 *
 *   disconnected → connecting → connected ⇄ reconnecting → disconnected
 *
 * Recovery: a dropped socket or a closed room rejoins at once, paced by the ReconnectPolicy; ICE
 * trouble first restarts ICE and rejoins only if the media does not come back in time. A rejoin
 * fetches a fresh grant, builds a new CallSession and republishes the current LocalMedia.
 *
 * Public methods never reject: failures are reported through the 'error' event.
 */
export class CallRoom extends TypedEmitter<CallRoomEvents> {
  private readonly signaling: SignalingClient;
  private readonly policy: ReconnectPolicy;
  private readonly local = new LocalMedia(() => this.syncMedia().catch((error) => this.report(error)));
  private readonly remotes = new Map<string, RemoteParticipant>();
  private session: CallSession | null = null;
  private state: CallState = 'disconnected';
  private roomId = '';
  private localId: string | null = null;
  private permissions = NO_PERMISSIONS;
  private speaking = new Set<string>();
  private activeSpeakerId: string | null = null;
  private started = false;
  private left = false;
  private rejoining = false;
  private readonly leaving = new AbortController();
  /** Publishing runs one at a time, in order (see syncMedia). */
  private mediaQueue: Promise<void> = Promise.resolve();
  private cached: CallSnapshot | null = null;
  /** Remote video we do not want now (`peerId:source`), see setReceiving. */
  private readonly unwanted = new Set<string>();
  private deafened = false;
  /** Whether the mic was live when we deafened (undeafening brings it back). */
  private micBeforeDeafen = false;

  constructor(private readonly options: CallRoomOptions) {
    super();
    this.policy = options.policy ?? new DefaultReconnectPolicy();
    this.signaling = new SignalingClient(options.socket);
    Object.assign(this.local.devices, options.devices);
    const { signaling } = this;
    signaling.socket.on('disconnect', () => this.connectionLost('signaling'));
    signaling.on('voice:roomClosed', ({ roomId, reason }) => {
      if (roomId !== this.roomId) return;
      // Rejoining would take the call back from the user's other tab, which would take it back again.
      if (reason === DISPLACED_REASON) {
        this.report(new ProtocolError('CONFLICT', 'You joined this call from another tab or device.'));
        this.end();
      } else if (reason === NODE_DRAINING_REASON) this.move();
      else this.connectionLost('room-closed');
    });
    // Final: the server will not let us back in, so no rejoin.
    signaling.on('voice:removed', ({ roomId, reason }) => {
      if (roomId !== this.roomId) return;
      this.report(new ProtocolError('FORBIDDEN', REMOVED_BECAUSE[reason]));
      this.end();
    });
    signaling.on('voice:peerJoined', ({ peer }) => this.addPeer(peer));
    signaling.on('voice:peerLeft', ({ peerId }) => this.removePeer(peerId));
    signaling.on('voice:permissionsChanged', ({ permissions }) => this.setPermissions(permissions));
    signaling.on('voice:speaking', ({ peerIds }) => this.setSpeaking(peerIds));
    signaling.on('voice:activeSpeaker', ({ peerId }) => {
      this.activeSpeakerId = peerId;
      this.changed();
    });
    signaling.on('protocol:error', ({ message }) => this.report(new Error(message)));
  }

  snapshot(): CallSnapshot {
    return (this.cached ??= {
      state: this.state,
      roomId: this.roomId,
      participants: this.localId ? [this.localView(this.localId), ...[...this.remotes.values()].map((p) => p.view(this.speaking.has(p.id)))] : [],
      permissions: this.permissions,
      media: { mic: this.local.micOn, camera: !!this.local.track('camera'), screen: !!this.local.track('screen'), deafened: this.deafened },
      activeSpeakerId: this.activeSpeakerId,
    });
  }

  /** Joins the room, starting with microphone and camera on (as far as the grant allows). */
  async join(roomId: string): Promise<void> {
    if (this.started) return this.report(new Error('This call has already been used; start a new one.'));
    this.started = true;
    this.roomId = roomId;
    this.setState('connecting');
    try {
      await this.connect(true);
      this.setState('connected');
    } catch (error) {
      if (!this.left) this.report(error);
      this.end();
    }
  }

  async leave(): Promise<void> {
    if (this.left) return;
    const joined = this.session !== null && this.signaling.connected;
    this.shutdown();
    if (joined) await this.signaling.request('voice:leave', {}).catch(() => undefined);
    this.signaling.socket.disconnect();
  }

  /** Mutes or unmutes; captures the microphone first if there is none yet. Unmuting also undeafens. */
  toggleMic(): Promise<void> {
    return this.setMicMuted(this.local.micOn);
  }

  /** Mutes or unmutes (push-to-talk sets it directly). */
  setMicMuted(muted: boolean): Promise<void> {
    if (muted && !this.local.micOn) return Promise.resolve();
    if (!muted && this.deafened) void this.setDeafened(false);
    return this.changeMedia('mic', async () => {
      if (!muted && !this.local.track('mic')) await this.local.startMic();
      else this.local.setMicMuted(muted);
    });
  }

  /** Deafened: no sound from the others, and our microphone muted (as long as we hear nobody). */
  toggleDeafen(): Promise<void> {
    return this.setDeafened(!this.deafened);
  }

  async setDeafened(deafened: boolean): Promise<void> {
    if (this.left || this.deafened === deafened) return;
    this.deafened = deafened;
    if (deafened) {
      this.micBeforeDeafen = this.local.micOn;
      if (this.micBeforeDeafen) this.local.setMicMuted(true);
    } else if (this.micBeforeDeafen && this.local.track('mic')) {
      this.local.setMicMuted(false);
    }
    // Nobody's sound is forwarded to us while deafened.
    const updates = [...this.remotes.keys()].flatMap((peerId) =>
      (['mic', 'screen-audio'] as const).map((source) => this.session?.setReceiving(peerId, source, !deafened)),
    );
    await Promise.all([this.syncMedia(), ...updates]).catch((error) => this.report(error));
  }

  /**
   * Whether we want a remote video now: its tile is visible. Unwanted video is paused on the
   * server (voice:pauseConsumer), and resumed when its tile shows again.
   */
  setReceiving(peerId: string, source: 'camera' | 'screen', receiving: boolean): void {
    const key = `${peerId}:${source}`;
    if (receiving === !this.unwanted.has(key)) return;
    if (receiving) this.unwanted.delete(key);
    else this.unwanted.add(key);
    this.session?.setReceiving(peerId, source, receiving).catch(() => undefined);
  }

  /** Captures from another microphone or camera; a live one switches without leaving the call. */
  async useDevice(kind: 'mic' | 'camera', deviceId: string): Promise<void> {
    try {
      if (await this.local.useDevice(kind, deviceId)) await this.syncMedia();
    } catch (error) {
      this.report(error);
    }
    this.changed();
  }

  toggleCamera(): Promise<void> {
    return this.changeMedia('camera', () => (this.local.track('camera') ? this.local.stop('camera') : this.local.startCamera()));
  }

  toggleScreen(): Promise<void> {
    return this.changeMedia('screen', () => (this.local.track('screen') ? this.local.stop('screen') : this.local.startScreen()));
  }

  /** Stats of the current recv transport, or null outside a live session (diagnostics). */
  recvStats(): Promise<RTCStatsReport> | null {
    return this.session?.recvStats() ?? null;
  }

  /** One (re)join: socket, grant, voice:join, transports, then our media. */
  private async connect(first: boolean): Promise<void> {
    const reused = this.signaling.connected;
    await this.signaling.connect();
    // On a socket that survived (closed room, dead media), the server may still count us in.
    if (!first && reused) await this.signaling.request('voice:leave', {}).catch(() => undefined);
    const { grant, iceServers } = await this.options.fetchGrant(this.roomId);
    if (this.left) throw interrupted();
    const device = this.options.createDevice?.() ?? new Device();
    const session: CallSession = new CallSession(this.signaling, device, this.observe(() => session));
    this.session = session;
    const joined = await session.join(grant);
    this.localId = joined.peerId;
    this.permissions = joined.permissions;
    // Whoever is still there keeps their tile (and, after a move, their last frame until replaced).
    const present = new Set(joined.peers.map((peer) => peer.peerId));
    for (const peerId of [...this.remotes.keys()]) if (!present.has(peerId)) this.remotes.delete(peerId);
    for (const peer of joined.peers) this.addPeer(peer);
    const capture = first ? this.captureInitialMedia() : Promise.resolve();
    await session.setup(joined.routerRtpCapabilities, { iceServers: iceServers ?? [], iceTransportPolicy: this.options.iceTransportPolicy ?? 'all' });
    await capture;
    await this.syncMedia();
    // A drop while we were finishing closes the session without starting a new attempt.
    if (session.closed || !this.signaling.connected) throw interrupted();
  }

  private async captureInitialMedia(): Promise<void> {
    const { startMuted, startCamera } = this.options.initialMedia ?? {};
    const results = await Promise.allSettled([
      this.permissions.speak ? this.local.startMic() : undefined,
      this.permissions.video && startCamera !== false ? this.local.startCamera() : undefined,
    ]);
    for (const result of results) if (result.status === 'rejected') this.report(result.reason);
    if (startMuted || this.deafened) this.local.setMicMuted(true);
    this.changed();
  }

  /**
   * The call's SFU node is draining and the call moves to another: rejoin at once, staying
   * 'connected' and keeping the last frames of what we received until the new session replaces
   * them — a brief freeze rather than a reconnect. Should that rejoin fail, it is a lost call.
   */
  private move(): void {
    if (this.left || this.state !== 'connected' || this.rejoining) return this.connectionLost('room-closed');
    this.rejoining = true;
    const stale = new Set([...this.remotes.values()].flatMap((participant) => [...participant.tracks.values()].map((view) => view.track)));
    const session = this.session;
    this.session = null;
    session?.close();
    this.connect(false).then(
      () => {
        this.rejoining = false;
        setTimeout(() => this.dropStale(stale), STALE_TRACK_MS);
      },
      () => {
        this.rejoining = false;
        this.connectionLost('room-closed');
      },
    );
  }

  private dropStale(stale: ReadonlySet<MediaStreamTrack>): void {
    for (const participant of this.remotes.values()) {
      for (const [source, view] of participant.tracks) if (stale.has(view.track)) participant.removeTrack(source);
    }
    this.changed();
  }

  /** The socket dropped, the room closed or ICE could not be restarted. */
  private connectionLost(reason: ReconnectReason): void {
    if (this.left || this.state === 'disconnected') return;
    this.dropSession();
    // An initial join fails on its own (its requests reject); a running rejoin retries on its own.
    if (this.state !== 'connecting' && !this.rejoining) void this.rejoin(reason);
  }

  private async rejoin(reason: ReconnectReason): Promise<void> {
    this.rejoining = true;
    this.setState('reconnecting');
    const lostAt = Date.now();
    let error: unknown;
    for (let attempt = 0; !this.left; attempt++) {
      const delay = this.policy.nextRetryDelayMs({ attempt, elapsedMs: Date.now() - lostAt, reason, error });
      if (delay === null) break;
      await this.sleep(delay);
      if (this.left) break;
      try {
        this.dropSession();
        await this.connect(false);
        this.rejoining = false;
        this.setState('connected');
        return;
      } catch (e) {
        error = e;
      }
    }
    this.rejoining = false;
    if (this.left) return;
    this.report(error ?? new ProtocolError('UNAVAILABLE', 'Lost the call.'));
    this.end();
  }

  /** ICE went 'failed' or 'disconnected': restart it, and rejoin if the media stays down. */
  private async recoverMedia(session: CallSession): Promise<void> {
    if (this.state !== 'connected' || session !== this.session) return;
    this.setState('reconnecting');
    try {
      await session.restartIce(this.policy.iceRestartTimeoutMs);
      if (session === this.session && !this.rejoining) this.setState('connected');
    } catch {
      if (session === this.session) this.connectionLost('media');
    }
  }

  private observe(current: () => CallSession): SessionObserver {
    const live = () => current() === this.session;
    return {
      remoteTrack: (peerId, source, track, paused) => {
        if (!live()) return;
        this.remote(peerId).setTrack(source, track, paused);
        this.changed();
      },
      remoteTrackPaused: (peerId, source, paused) => {
        this.remotes.get(peerId)?.setPaused(source, paused);
        this.changed();
      },
      remoteTrackEnded: (peerId, source) => {
        // An old session closing (a move) leaves what it showed to be replaced by the new one.
        if (!live()) return;
        this.remotes.get(peerId)?.removeTrack(source);
        this.changed();
      },
      sourceRefused: (source) => {
        this.local.stop(source);
        this.changed();
      },
      wanted: (peerId, source) => {
        if (source === 'mic' || source === 'screen-audio') return !this.deafened;
        return !this.unwanted.has(`${peerId}:${source}`);
      },
      mediaTrouble: () => void this.recoverMedia(current()),
      error: (error) => live() && this.report(error),
    };
  }

  /**
   * Brings the session's producers in line with LocalMedia. Runs are queued so two changes never
   * publish at once; each run reads the state it finds, so the last one always wins.
   */
  private syncMedia(): Promise<void> {
    this.changed();
    const run = this.mediaQueue.then(() => {
      const { session } = this;
      return session && !session.closed ? session.publish(this.local) : undefined;
    });
    this.mediaQueue = run.catch(() => undefined);
    return run;
  }

  private async changeMedia(source: ProducerSource, change: () => void | Promise<void>): Promise<void> {
    if (this.left || !this.started) return;
    try {
      if (!this.local.track(source) && !mayProduce(this.permissions, source)) {
        throw new ProtocolError('FORBIDDEN', `You are not allowed to ${FORBIDDEN_TO[source]} in this room.`);
      }
      await change();
      await this.syncMedia();
    } catch (error) {
      this.report(error);
      this.changed();
    }
  }

  private setPermissions(permissions: VoicePermissions): void {
    this.permissions = permissions;
    for (const source of ProducerSource.options) if (!mayProduce(permissions, source)) this.local.stop(source);
    this.syncMedia().catch((error) => this.report(error));
  }

  private addPeer(peer: PeerInfo): void {
    if (peer.peerId === this.localId) return;
    this.remote(peer.peerId).displayName = peer.displayName;
    this.changed();
  }

  private removePeer(peerId: string): void {
    this.session?.dropPeer(peerId);
    this.remotes.delete(peerId);
    this.changed();
  }

  private remote(peerId: string): RemoteParticipant {
    let participant = this.remotes.get(peerId);
    if (!participant) this.remotes.set(peerId, (participant = new RemoteParticipant(peerId, peerId)));
    return participant;
  }

  private setSpeaking(peerIds: string[]): void {
    const speaking = new Set(peerIds);
    if (speaking.size === this.speaking.size && peerIds.every((id) => this.speaking.has(id))) return;
    this.speaking = speaking;
    this.changed();
  }

  private localView(id: string): ParticipantView {
    const tracks: Partial<Record<ProducerSource, TrackView>> = {};
    for (const source of ProducerSource.options) {
      const track = this.local.track(source);
      if (track) tracks[source] = { track, paused: source === 'mic' && this.local.micMuted };
    }
    return { id, displayName: this.options.displayName, isLocal: true, speaking: this.speaking.has(id), tracks };
  }

  /** Closes the current session; what it received goes with it. */
  private dropSession(): void {
    this.session?.close();
    this.session = null;
    for (const participant of this.remotes.values()) participant.tracks.clear();
    this.speaking = new Set();
    this.activeSpeakerId = null;
    this.changed();
  }

  /** Releases everything but the socket. */
  private shutdown(): void {
    this.left = true;
    this.leaving.abort();
    this.dropSession();
    this.local.close();
    this.remotes.clear();
    this.localId = null;
    this.setState('disconnected');
  }

  private end(): void {
    this.shutdown();
    this.signaling.socket.disconnect();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (ms <= 0 || this.leaving.signal.aborted) return resolve();
      const timer = setTimeout(resolve, ms);
      this.leaving.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
  }

  private setState(state: CallState): void {
    if (this.state === state) return;
    this.state = state;
    this.changed();
  }

  private changed(): void {
    this.cached = null;
    this.emit('changed');
  }

  private report(error: unknown): void {
    this.emit('error', error instanceof Error ? error : new Error(String(error)));
  }
}
