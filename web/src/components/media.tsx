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
export function TrackVideo({ track, mirrored }: { track: MediaStreamTrack | undefined; mirrored: boolean }) {
  const ref = useTrack<HTMLVideoElement>(track);
  return <video ref={ref} className={mirrored ? 'mirrored' : undefined} autoPlay playsInline muted />;
}

export function TrackAudio({ track }: { track: MediaStreamTrack }) {
  const ref = useTrack<HTMLAudioElement>(track);
  return <audio ref={ref} autoPlay />;
}
