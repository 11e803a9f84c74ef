import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, errors, exportJWK, jwtVerify, SignJWT, type JSONWebKeySet, type JWTPayload } from 'jose';
import { TOKEN_ISSUER } from '@concord/protocol';
import { ConfigError } from '@concord/service-shell';
import type { ApiConfig } from './config';
import { createFileExclusive } from './files';

const ALG = 'ES256';
export const SIGNING_KEY_FILE = 'api-signing-key.pem';

/** The API's one signing key. Signaling and SFU nodes only ever see the public half (the JWKS). */
export interface SigningKeys {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SPKI PEM of the public key, for services configured with a static key instead of the JWKS URL. */
  readonly publicKeyPem: string;
  readonly jwks: JSONWebKeySet;
}

export interface SignedToken {
  token: string;
  /** Milliseconds since the epoch, like Date.now(). */
  expiresAt: number;
}

// ConfigErrors: the service then exits at once, naming the variable (service-shell).
function assertP256(key: KeyObject, source: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ConfigError(`${source} must be an EC P-256 key (ES256)`);
  }
}

function envPrivateKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new ConfigError(`API_PRIVATE_KEY_PEM is not a PEM private key (${(error as Error).message})`);
  }
}

/** The persisted key, created on first start. Env keys never touch the disk. */
async function persistedPrivateKey(dataDir: string): Promise<KeyObject> {
  const file = path.join(dataDir, SIGNING_KEY_FILE);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  try {
    return createPrivateKey(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read signing key ${file}: ${(error as Error).message}`);
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const created = await createFileExclusive(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
  return created ? privateKey : createPrivateKey(await readFile(file, 'utf8'));
}

export async function loadSigningKeys(config: Pick<ApiConfig, 'dataDir' | 'privateKeyPem' | 'publicKeyPem'>): Promise<SigningKeys> {
  const privateKey = config.privateKeyPem ? envPrivateKey(config.privateKeyPem) : await persistedPrivateKey(config.dataDir);
  assertP256(privateKey, config.privateKeyPem ? 'API_PRIVATE_KEY_PEM' : SIGNING_KEY_FILE);
  const publicKey = createPublicKey(privateKey);
  const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });
  if (config.publicKeyPem && !spki(createPublicKey(config.publicKeyPem)).equals(spki(publicKey))) {
    throw new Error('API_PUBLIC_KEY_PEM is not the public half of API_PRIVATE_KEY_PEM');
  }
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return {
    kid,
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    jwks: { keys: [{ ...jwk, kid, alg: ALG, use: 'sig' }] },
  };
}

export async function signToken(keys: SigningKeys, audience: string, claims: JWTPayload, ttlSeconds: number): Promise<SignedToken> {
  const issuedAt = Math.floor(Date.now() / 1000);
  const expiresAtSeconds = issuedAt + ttlSeconds;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: ALG, kid: keys.kid, typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(audience)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAtSeconds)
    .sign(keys.privateKey);
  return { token, expiresAt: expiresAtSeconds * 1000 };
}

/** The payload of a token we signed for `audience`, or null if it is forged, expired, or for another audience. */
export async function verifyToken(keys: SigningKeys, token: string, audience: string): Promise<JWTPayload | null> {
  try {
    const { payload } = await jwtVerify(token, keys.publicKey, { issuer: TOKEN_ISSUER, audience, algorithms: [ALG] });
    return payload;
  } catch (error) {
    if (error instanceof errors.JOSEError) return null;
    throw error;
  }
}
