import type { ApiClient } from '../api/client';
import { exposeDebugHook } from '../call/diagnostics';
import { TypedEmitter } from '../call/emitter';
import type { CallRoom, CallSnapshot } from '../call/room';
import { openSignalingSocket } from '../call/signaling-client';
import { describeError } from '../describe-error';

/** The user's voice settings, kept across reloads. */
export interface VoicePreferences {
  mic?: string;
  camera?: string;
  speaker?: string;
  /** Join with the camera on. */
  camera_on_join: boolean;
  pushToTalk: boolean;
  /** KeyboardEvent.code of the push-to-talk key. */
  pushToTalkKey: string;
  /** Media only through TURN: the SFU and other networks never see the user's address (needs TURN on the server). */
  relayOnly: boolean;
}

const KEY = 'concord.voice';

/** The call stack (mediasoup-client and the call room) loads on the first join, not with the chat. */
const loadCallStack = () => import('../call/room');
const DEFAULTS: VoicePreferences = { camera_on_join: true, pushToTalk: false, pushToTalkKey: 'KeyV', relayOnly: false };

function loadPreferences(): VoicePreferences {
  try {
    return { ...DEFAULTS, ...(JSON.parse(localStorage.getItem(KEY) ?? '{}') as Partial<VoicePreferences>) };
  } catch {
    return { ...DEFAULTS };
  }
}

export interface VoiceView {
  /** The voice channel we are in (or joining), null when in none. */
  channelId: string | null;
  serverId: string | null;
  call: CallSnapshot | null;
  /** The last thing that went wrong, in plain words (cleared on the next join). */
  error: string | null;
  preferences: VoicePreferences;
  /** The push-to-talk key is held. */
  talking: boolean;
}

/**
 * The user's one voice connection: which voice channel they are in, its CallRoom, and their
 * settings. Joining another channel leaves the current one first, as on Discord.
 */
export class VoiceController extends TypedEmitter<{ changed: [] }> {
  private room: CallRoom | null = null;
  private offRoom: Array<() => void> = [];
  /** Counts joins, so that one still loading the call stack when it is left or replaced is dropped. */
  private joins = 0;
  private view: VoiceView = { channelId: null, serverId: null, call: null, error: null, preferences: loadPreferences(), talking: false };

  constructor(
    private readonly api: ApiClient,
    private readonly session: { token: string; displayName: string },
  ) {
    super();
    exposeDebugHook(() => this.room);
  }

  get state(): VoiceView {
    return this.view;
  }

  get currentRoom(): CallRoom | null {
    return this.room;
  }

  subscribe = (listener: () => void): (() => void) => this.on('changed', listener);

  join(serverId: string, channelId: string): void {
    if (this.view.channelId === channelId && this.view.call?.state !== 'disconnected') return;
    this.leave();
    const join = ++this.joins;
    // In the channel at once (the sidebar shows "connecting"); the call starts once its code is here.
    this.set({ channelId, serverId, call: null, error: null });
    loadCallStack().then(
      ({ CallRoom }) => join === this.joins && this.start(new CallRoom(this.roomOptions()), channelId),
      (error: unknown) => join === this.joins && this.set({ channelId: null, serverId: null, error: describeError(error) }),
    );
  }

  private roomOptions(): ConstructorParameters<typeof CallRoom>[0] {
    const { preferences } = this.view;
    return {
      socket: openSignalingSocket(this.session.token),
      displayName: this.session.displayName,
      fetchGrant: (id) => this.api.voiceGrant(id),
      devices: { ...(preferences.mic && { mic: preferences.mic }), ...(preferences.camera && { camera: preferences.camera }) },
      initialMedia: { startMuted: preferences.pushToTalk, startCamera: preferences.camera_on_join },
      iceTransportPolicy: preferences.relayOnly ? 'relay' : 'all',
    };
  }

  private start(room: CallRoom, channelId: string): void {
    this.room = room;
    this.offRoom = [
      room.on('changed', () => {
        const call = room.snapshot();
        // A call that ended by itself (refused, lost for good) leaves the channel.
        if (call.state === 'disconnected' && this.room === room) this.detach();
        this.set({ call: this.room === room ? call : null });
      }),
      room.on('error', (error) => this.set({ error: describeError(error) })),
    ];
    this.set({ call: room.snapshot() });
    void room.join(channelId);
  }

  leave(): void {
    this.joins++;
    const { room } = this;
    if (!room) {
      if (this.view.channelId) this.set({ channelId: null, serverId: null, call: null, talking: false });
      return;
    }
    this.detach();
    void room.leave();
    this.set({ channelId: null, serverId: null, call: null, talking: false });
  }

  dismissError(): void {
    this.set({ error: null });
  }

  setPreferences(change: Partial<VoicePreferences>): void {
    const preferences = { ...this.view.preferences, ...change };
    try {
      localStorage.setItem(KEY, JSON.stringify(preferences));
    } catch {
      // Not kept across reloads, still used now.
    }
    const room = this.room;
    if (room) {
      if (change.mic) void room.useDevice('mic', change.mic);
      if (change.camera) void room.useDevice('camera', change.camera);
      // Turning push-to-talk on mutes until the key is pressed.
      if (change.pushToTalk === true) void room.setMicMuted(true);
    }
    this.set({ preferences });
  }

  /** The push-to-talk key went down or up. */
  pushToTalk(pressed: boolean): void {
    if (!this.view.preferences.pushToTalk || !this.room || this.view.talking === pressed) return;
    this.set({ talking: pressed });
    void this.room.setMicMuted(!pressed);
  }

  close(): void {
    this.leave();
  }

  private detach(): void {
    for (const off of this.offRoom) off();
    this.offRoom = [];
    this.room = null;
    this.set({ channelId: null, serverId: null, call: null, talking: false });
  }

  private set(change: Partial<VoiceView>): void {
    this.view = { ...this.view, ...change };
    this.emit('changed');
  }
}
