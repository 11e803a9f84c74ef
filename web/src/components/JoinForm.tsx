import { useState } from 'react';
import type { FormEvent } from 'react';
import { RoomId } from '@concord/protocol';

export function JoinForm({ lastRoom, onJoin }: { lastRoom: string; onJoin: (roomId: string) => void }) {
  const [name, setName] = useState(lastRoom);
  const [invalid, setInvalid] = useState<string | null>(null);

  function submit(event: FormEvent) {
    event.preventDefault();
    const roomId = name.trim();
    const valid = RoomId.safeParse(roomId).success;
    setInvalid(valid ? null : 'Room names are up to 64 letters, digits, dots, colons, dashes or underscores.');
    if (valid) onJoin(roomId);
  }

  return (
    <main className="lobby">
      <form className="card" onSubmit={submit} noValidate>
        <h2>Join a room</h2>
        <p className="muted">Everyone who joins the same room name can see and hear each other.</p>
        <label>
          Room name
          <input data-testid="room-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. lounge" autoFocus />
        </label>
        {invalid && (
          <p className="error" role="alert">
            {invalid}
          </p>
        )}
        <button className="primary" data-testid="room-join" type="submit">
          Join with camera and microphone
        </button>
      </form>
    </main>
  );
}
