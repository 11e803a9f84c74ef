/**
 * The benchmark's API process: the real API (startApi, as api/src/main.ts runs it) plus, without
 * Redis, the embedded default's signaling in the same process (in-process real-time delivery).
 * Driven by bench/chat.ts over IPC: it reports where it listens, seeds servers with members
 * straight into the database (signing up a thousand users through the API would measure scrypt),
 * and stops.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { InProcessRealtimePublisher, loadConfig, startApi } from '@concord/api';
import { DEFAULT_EVERYONE_PERMISSIONS } from '@concord/protocol';
import { InProcessPresenceStore, InProcessRegistry } from '@concord/registry';
import { loadSignalingConfig, Signaling, TokenVerifier } from '@concord/signaling';
import { uuidv7 } from '../api/src/db/ids';
import { DEFAULT_RATE_LIMITS, type RateLimitRules } from '../api/src/rate-limits';

export type HostRequest = { type: 'seed'; members: number; tag: string } | { type: 'stop' };
export type HostReply =
  | { type: 'ready'; apiUrl: string; signalingUrl?: string; database: string }
  | { type: 'seeded'; serverId: string; channelId: string; userIds: string[]; tokens: string[] }
  | { type: 'error'; message: string };

/** No limit the benchmark reaches: it measures the platform, not the abuse limits. */
const UNLIMITED: RateLimitRules = Object.fromEntries(Object.entries(DEFAULT_RATE_LIMITS).map(([name, rule]) => [name, { ...rule, limit: 1_000_000_000 }])) as unknown as RateLimitRules;

const send = (reply: HostReply) => process.send?.(reply);

/** Sessions opened at once while seeding. */
const SESSION_BATCH = 20;

async function main(): Promise<void> {
  const log = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
  const config = loadConfig(process.env);
  const embedded = !config.redisUrl;
  const inProcess = embedded ? new InProcessRealtimePublisher() : undefined;
  const api = await startApi(config, log, { rateLimitRules: UNLIMITED, ...(inProcess && { realtime: inProcess }) });

  let signalingUrl: string | undefined;
  let closeSignaling = async () => undefined as void;
  if (inProcess) {
    const httpServer = createServer();
    const registry = new InProcessRegistry();
    const presence = new InProcessPresenceStore();
    const signaling = new Signaling(httpServer, {
      config: loadSignalingConfig({}, { sfuSecret: 'bench-unused-sfu-secret' }),
      registry,
      verifier: TokenVerifier.fromJwks(api.keys.jwks),
      revokedSessions: api.deps.sessionService,
      log,
      realtime: { presence },
    });
    inProcess.attach(signaling.realtime);
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    signalingUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
    closeSignaling = async () => {
      await signaling.close();
      await new Promise((resolve) => httpServer.close(resolve));
      await presence.close();
      await registry.close();
    };
  }

  const db = api.deps.db;
  process.on('message', (request: HostRequest) => {
    if (request.type === 'stop') {
      void (async () => {
        await closeSignaling().catch(() => undefined);
        await api.close().catch(() => undefined);
        process.exit(0);
      })();
      return;
    }
    void (async () => {
      const userIds = Array.from({ length: request.members }, () => uuidv7());
      const names = userIds.map((id, i) => `${request.tag}${i}-${id.slice(-8)}`);
      const serverId = uuidv7();
      const channelId = uuidv7();
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO users (id, username, display_name) SELECT * FROM unnest($1::uuid[], $2::text[], $2::text[])', [userIds, names]);
        await tx.query('INSERT INTO servers (id, name, owner_id) VALUES ($1, $2, $3)', [serverId, `bench ${request.tag}`, userIds[0]]);
        await tx.query('INSERT INTO roles (id, server_id, name, permissions, is_everyone) VALUES ($1, $2, $3, $4, true)', [uuidv7(), serverId, '@everyone', DEFAULT_EVERYONE_PERMISSIONS]);
        await tx.query("INSERT INTO channels (id, server_id, kind, name) VALUES ($1, $2, 'text', 'general')", [channelId, serverId]);
        await tx.query('INSERT INTO members (server_id, user_id) SELECT $1, unnest($2::uuid[])', [serverId, userIds]);
      });
      // Real sessions: the API accepts a token only while its server-side session lives.
      const client = { userAgent: 'bench', ip: '127.0.0.1' };
      // In batches: a thousand at once would wait longer for a pooled connection than the pool allows on a busy machine.
      const tokens: string[] = [];
      for (let start = 0; start < userIds.length; start += SESSION_BATCH) {
        const batch = userIds.slice(start, start + SESSION_BATCH);
        tokens.push(...(await Promise.all(batch.map(async (id, i) => (await api.deps.sessions.issueSession({ id, username: names[start + i]!, displayName: names[start + i]! }, client)).token))));
      }
      send({ type: 'seeded', serverId, channelId, userIds, tokens });
    })().catch((error: unknown) => send({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', apiUrl: api.url, ...(signalingUrl && { signalingUrl }), database: api.deps.database.kind });
}

main().catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});
