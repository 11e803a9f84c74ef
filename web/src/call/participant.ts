import type { ProducerSource } from '@concord/protocol';

/** A track as the UI sees it. `paused`: its producer is paused (e.g. a muted microphone). */
export interface TrackView {
  readonly track: MediaStreamTrack;
  readonly paused: boolean;
}

/** An immutable picture of one participant, for rendering. */
export interface ParticipantView {
  readonly id: string;
  readonly displayName: string;
  readonly isLocal: boolean;
  readonly speaking: boolean;
  readonly tracks: Readonly<Partial<Record<ProducerSource, TrackView>>>;
}

/** Someone else in the room, with the media received from them. */
export class RemoteParticipant {
  readonly tracks = new Map<ProducerSource, TrackView>();

  constructor(
    readonly id: string,
    public displayName: string,
  ) {}

  setTrack(source: ProducerSource, track: MediaStreamTrack, paused: boolean): void {
    this.tracks.set(source, { track, paused });
  }

  setPaused(source: ProducerSource, paused: boolean): void {
    const current = this.tracks.get(source);
    if (current) this.tracks.set(source, { ...current, paused });
  }

  removeTrack(source: ProducerSource): void {
    this.tracks.delete(source);
  }

  view(speaking: boolean): ParticipantView {
    return {
      id: this.id,
      displayName: this.displayName,
      isLocal: false,
      speaking,
      tracks: Object.fromEntries(this.tracks),
    };
  }
}
