import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from './config';
import { loadSigningKeys } from './keys';

test('defaults', () => {
  const config = loadConfig({});
  expect(config).toMatchObject({ port: 3001, dataDir: path.resolve('./data'), sessionTtlSeconds: 7 * 86_400, grantTtlSeconds: 60, authAttemptsPerMinute: 10 });
  expect(config.privateKeyPem).toBeUndefined();
});

test('durations and bad values', () => {
  expect(loadConfig({ SESSION_TTL: '12h', GRANT_TTL: '90' })).toMatchObject({ sessionTtlSeconds: 43_200, grantTtlSeconds: 90 });
  expect(() => loadConfig({ GRANT_TTL: '0' })).toThrow(/GRANT_TTL/);
  expect(() => loadConfig({ SESSION_TTL: 'a week' })).toThrow(/SESSION_TTL/);
  expect(() => loadConfig({ API_PORT: '70000' })).toThrow(/API_PORT/);
});

test('TURN: URLs and secret together, checked, the secret never echoed', () => {
  const urls = 'turn:turn.example.com:3478?transport=udp, turns:turn.example.com:443?transport=tcp';
  const secret = 'a-long-shared-turn-secret';
  expect(loadConfig({}).turn).toBeUndefined();
  expect(loadConfig({ TURN_URLS: urls, TURN_SECRET: secret, TURN_TTL: '1h' }).turn).toEqual({
    urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:443?transport=tcp'],
    secret,
    ttlSeconds: 3600,
  });
  expect(loadConfig({ TURN_URLS: urls, TURN_SECRET: secret }).turn?.ttlSeconds).toBe(12 * 3600);
  expect(() => loadConfig({ TURN_URLS: urls })).toThrow(/TURN_URLS and TURN_SECRET go together/);
  expect(() => loadConfig({ TURN_SECRET: secret })).toThrow(/TURN_URLS and TURN_SECRET go together/);
  expect(() => loadConfig({ TURN_URLS: 'https://turn.example.com', TURN_SECRET: secret })).toThrow(/TURN_URLS .*not a TURN URL/);
  const short = 'tooshort';
  expect(() => loadConfig({ TURN_URLS: urls, TURN_SECRET: short })).toThrow(/TURN_SECRET must be at least 16 characters/);
  expect(() => loadConfig({ TURN_URLS: urls, TURN_SECRET: short })).not.toThrow(new RegExp(short));
});

test('keys from the environment: used as given, never written, and checked for a matching public half', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'concord-keys-'));
  try {
    const pem = (type: 'pkcs8' | 'spki', key: { export(o: object): string | Buffer }) => key.export({ type, format: 'pem' }).toString();
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // Env files often carry PEMs with literal \n.
    const env = { CONCORD_DATA_DIR: dataDir, API_PRIVATE_KEY_PEM: pem('pkcs8', pair.privateKey).replace(/\n/g, '\\n') };
    const keys = await loadSigningKeys(loadConfig({ ...env, API_PUBLIC_KEY_PEM: pem('spki', pair.publicKey) }));
    expect(keys.publicKeyPem).toBe(pem('spki', pair.publicKey));
    await expect(loadSigningKeys(loadConfig({ ...env, API_PUBLIC_KEY_PEM: pem('spki', other.publicKey) }))).rejects.toThrow(/API_PUBLIC_KEY_PEM/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await expect(loadSigningKeys(loadConfig({ CONCORD_DATA_DIR: dataDir, API_PRIVATE_KEY_PEM: pem('pkcs8', rsa.privateKey) }))).rejects.toThrow(/P-256/);
    // Errors that stop the service at start, naming the variable (service-shell logs "api cannot start: …").
    await expect(loadSigningKeys(loadConfig({ CONCORD_DATA_DIR: dataDir, API_PRIVATE_KEY_PEM: 'not-a-key' }))).rejects.toThrow(
      expect.objectContaining({ name: 'ConfigError', message: expect.stringMatching(/^API_PRIVATE_KEY_PEM is not a PEM private key/) }),
    );
    expect(() => loadConfig({ API_PUBLIC_KEY_PEM: pem('spki', pair.publicKey) })).toThrow(/API_PRIVATE_KEY_PEM/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
