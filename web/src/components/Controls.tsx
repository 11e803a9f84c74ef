import { useState } from 'react';
import type { CallRoom, CallSnapshot } from '../call/room';

type Control = 'mic' | 'camera' | 'screen';

/** Call controls; aria-pressed tells whether the microphone, camera or screen share is on. */
export function Controls({ room, snapshot }: { room: CallRoom; snapshot: CallSnapshot }) {
  const [busy, setBusy] = useState<Control | null>(null);
  const { media, permissions, state } = snapshot;
  const idle = busy === null && state !== 'connecting';

  const run = (control: Control, action: () => Promise<void>) => () => {
    setBusy(control);
    void action().finally(() => setBusy(null));
  };

  return (
    <nav className="controls" aria-label="Call controls">
      <button
        data-testid="toggle-mic"
        aria-pressed={media.mic}
        disabled={!idle || (!media.mic && !permissions.speak)}
        onClick={run('mic', () => room.toggleMic())}
      >
        {media.mic ? 'Mute' : 'Unmute'}
      </button>
      <button
        data-testid="toggle-camera"
        aria-pressed={media.camera}
        disabled={!idle || (!media.camera && !permissions.video)}
        onClick={run('camera', () => room.toggleCamera())}
      >
        {media.camera ? 'Stop video' : 'Start video'}
      </button>
      <button
        data-testid="toggle-screen"
        aria-pressed={media.screen}
        disabled={!idle || (!media.screen && !permissions.screen)}
        onClick={run('screen', () => room.toggleScreen())}
      >
        {media.screen ? 'Stop sharing' : 'Share screen'}
      </button>
      <button className="danger" data-testid="voice-leave" onClick={() => void room.leave()}>
        Leave
      </button>
    </nav>
  );
}
