import { useEffect, useRef } from 'react';

/** Plays one track in a media element; play() is retried on each new track (autoplay may wait). */
function useTrack<E extends HTMLMediaElement>(track: MediaStreamTrack | undefined) {
  const ref = useRef<E>(null);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    element.srcObject = track ? new MediaStream([track]) : null;
    // A newer srcObject interrupts this play(); that rejection means nothing.
    if (track) element.play().catch(() => undefined);
  }, [track]);
  return ref;
}

/** Always muted: sound goes through TrackAudio, so video never waits for autoplay permission. */
export function TrackVideo({ track, mirrored, label }: { track: MediaStreamTrack | undefined; mirrored: boolean; label: string }) {
  const ref = useTrack<HTMLVideoElement>(track);
  return <video ref={ref} className={mirrored ? 'mirrored' : undefined} autoPlay playsInline muted aria-label={label} />;
}

type SinkElement = HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> };

/** Remote sound, on the chosen speaker where the browser can choose; silent while deafened. */
export function TrackAudio({ track, muted, speaker }: { track: MediaStreamTrack; muted: boolean; speaker: string | undefined }) {
  const ref = useTrack<SinkElement>(track);
  useEffect(() => {
    const element = ref.current;
    if (element?.setSinkId && speaker !== undefined) element.setSinkId(speaker).catch(() => undefined);
  }, [ref, speaker]);
  return <audio ref={ref} autoPlay muted={muted} />;
}
