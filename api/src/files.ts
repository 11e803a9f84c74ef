import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';

/** Writes to a fresh temp file beside `file` and syncs it, so the final step is a single rename/link. */
async function writeTemp(file: string, data: string, mode: number): Promise<string> {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return temp;
}

/** Replaces `file` atomically: readers see the old or the new content, never a torn write. */
export async function writeFileAtomic(file: string, data: string, mode: number): Promise<void> {
  const temp = await writeTemp(file, data, mode);
  try {
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/**
 * Creates `file` atomically unless it exists. Returns false if another writer got there first, so
 * two processes starting on one data dir agree on the first file written.
 */
export async function createFileExclusive(file: string, data: string, mode: number): Promise<boolean> {
  const temp = await writeTemp(file, data, mode);
  try {
    await link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}
