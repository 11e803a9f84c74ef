import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Without ffmpeg, the load tester (and its tests) must say which package is missing.
test('a missing ffmpeg fails with a message naming the Debian package and how to install it', async () => {
  const cache = mkdtempSync(path.join(os.tmpdir(), 'concord-clips-'));
  const saved = { FFMPEG: process.env.FFMPEG, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
  process.env.FFMPEG = path.join(cache, 'no-such-ffmpeg');
  process.env.XDG_CACHE_HOME = cache;
  try {
    const clips = jest.requireActual<typeof import('./clips')>('./clips');
    await expect(clips.micClip()).rejects.toThrow(/no-such-ffmpeg is not installed: .*Debian's ffmpeg package \(npm run setup -- --test does/);
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    rmSync(cache, { recursive: true, force: true });
  }
});
