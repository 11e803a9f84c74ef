import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Small secrets (TOTP seeds) encrypted at rest with AES-256-GCM, so that a copy of the database
 * alone does not give anyone valid codes. Each box is `v1.<iv>.<ciphertext+tag>` (base64url), bound
 * to its owner (`context`, e.g. the user id) as associated data: a box copied to another row does
 * not open.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** From TWO_FACTOR_KEY (32 bytes). */
  static fromKey(key: Buffer): SecretBox {
    if (key.length !== 32) throw new Error('the secret box key must be 32 bytes');
    return new SecretBox(key);
  }

  /** Derived (HKDF-SHA256) from the API's signing key, when no key of its own is configured. */
  static derivedFrom(signingKey: KeyObject): SecretBox {
    const material = signingKey.export({ type: 'pkcs8', format: 'der' });
    return new SecretBox(Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), 'concord two-factor secrets v1', 32)));
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv).setAAD(Buffer.from(context));
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
  }

  /** Throws when the box was made with another key or for another context (or was altered). */
  open(box: string, context: string): string {
    const [version, iv, sealed] = box.split('.');
    if (version !== VERSION || !iv || !sealed) throw new Error('not a secret box');
    const bytes = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url')).setAAD(Buffer.from(context));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}
