import type { Database } from '../db';

export interface TotpRecord {
  secretBox: string;
  confirmed: boolean;
  /** The RFC 6238 time step of the last code accepted (0: none). */
  lastStep: number;
}

export interface PasskeyRecord {
  id: string;
  name: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  createdAt: number;
  lastUsedAt: number | null;
}

export type WebAuthnPurpose = 'register' | 'authenticate';

interface PasskeyRow {
  id: string;
  name: string;
  public_key: Buffer;
  counter: number;
  transports: string[];
  created_at: Date;
  last_used_at: Date | null;
}

const PASSKEY_COLUMNS = 'id, name, public_key, counter, transports, created_at, last_used_at';
const toPasskey = (row: PasskeyRow): PasskeyRecord => ({
  id: row.id,
  name: row.name,
  publicKey: new Uint8Array(row.public_key),
  counter: Number(row.counter),
  transports: row.transports,
  createdAt: row.created_at.getTime(),
  lastUsedAt: row.last_used_at?.getTime() ?? null,
});

/** The two-factor tables (migrations/0004_two_factor.sql). Every "use once" is one conditional write. */
export class TwoFactorStore {
  constructor(private readonly db: Database) {}

  async totp(userId: string): Promise<TotpRecord | null> {
    const row = await this.db.maybeOne<{ secret_box: string; confirmed: boolean; last_step: string }>(
      'SELECT secret_box, confirmed_at IS NOT NULL AS confirmed, last_step FROM user_totp WHERE user_id = $1',
      [userId],
    );
    return row && { secretBox: row.secret_box, confirmed: row.confirmed, lastStep: Number(row.last_step) };
  }

  /** Starts (or restarts) an enrolment; false when TOTP is confirmed already. */
  async beginTotp(userId: string, secretBox: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `INSERT INTO user_totp (user_id, secret_box) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET secret_box = excluded.secret_box, created_at = now(), last_step = 0
       WHERE user_totp.confirmed_at IS NULL`,
      [userId, secretBox],
    );
    return rowCount === 1;
  }

  /**
   * Records `step` as used, if it is later than every step used before (and, with `confirm`, turns
   * a pending enrolment on): false for a replayed code, one of whose step a later code was used.
   */
  async useStep(userId: string, step: number, confirm: boolean): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE user_totp SET last_step = $2, confirmed_at = CASE WHEN $3 THEN now() ELSE confirmed_at END
       WHERE user_id = $1 AND last_step < $2 AND (confirmed_at IS NULL) = $3`,
      [userId, step, confirm],
    );
    return rowCount === 1;
  }

  async recoveryCodesLeft(userId: string): Promise<number> {
    const row = await this.db.one<{ left: number }>('SELECT count(*)::int AS left FROM user_recovery_codes WHERE user_id = $1 AND used_at IS NULL', [userId]);
    return row.left;
  }

  /** Replaces every recovery code of the user (used ones too). */
  async replaceRecoveryCodes(userId: string, hashes: readonly string[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM user_recovery_codes WHERE user_id = $1', [userId]);
      await tx.query('INSERT INTO user_recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[])', [userId, hashes]);
    });
  }

  /** Marks the code used; false if it is not one of the user's unused codes. */
  async useRecoveryCode(userId: string, hash: string): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE user_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL', [userId, hash]);
    return rowCount === 1;
  }

  async passkeys(userId: string): Promise<PasskeyRecord[]> {
    const { rows } = await this.db.query<PasskeyRow>(`SELECT ${PASSKEY_COLUMNS} FROM user_passkeys WHERE user_id = $1 ORDER BY created_at`, [userId]);
    return rows.map(toPasskey);
  }

  async passkey(userId: string, id: string): Promise<PasskeyRecord | null> {
    const row = await this.db.maybeOne<PasskeyRow>(`SELECT ${PASSKEY_COLUMNS} FROM user_passkeys WHERE user_id = $1 AND id = $2`, [userId, id]);
    return row && toPasskey(row);
  }

  /** False when the credential is registered already (to any account). */
  async addPasskey(userId: string, passkey: Pick<PasskeyRecord, 'id' | 'name' | 'publicKey' | 'counter' | 'transports'>): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `INSERT INTO user_passkeys (id, user_id, name, public_key, counter, transports) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO NOTHING`,
      [passkey.id, userId, passkey.name, Buffer.from(passkey.publicKey), passkey.counter, passkey.transports],
    );
    return rowCount === 1;
  }

  async passkeyUsed(id: string, counter: number): Promise<void> {
    await this.db.query('UPDATE user_passkeys SET counter = $2, last_used_at = now() WHERE id = $1', [id, counter]);
  }

  async saveChallenge(challenge: string, userId: string, purpose: WebAuthnPurpose, expiresAt: number): Promise<void> {
    await this.db.query('DELETE FROM webauthn_challenges WHERE user_id = $1 AND expires_at < now()', [userId]);
    await this.db.query('INSERT INTO webauthn_challenges (challenge, user_id, purpose, expires_at) VALUES ($1, $2, $3, $4)', [challenge, userId, purpose, new Date(expiresAt)]);
  }

  /** Takes the challenge (each answers once); false if it is not the user's, live, for `purpose`. */
  async takeChallenge(challenge: string, userId: string, purpose: WebAuthnPurpose): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM webauthn_challenges WHERE challenge = $1 AND user_id = $2 AND purpose = $3 AND expires_at > now()', [
      challenge,
      userId,
      purpose,
    ]);
    return rowCount === 1;
  }

  /** Turns two-factor sign-in off: the TOTP secret, the passkeys and the recovery codes go. */
  async removeAll(userId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM user_totp WHERE user_id = $1', [userId]);
      await tx.query('DELETE FROM user_passkeys WHERE user_id = $1', [userId]);
      await tx.query('DELETE FROM user_recovery_codes WHERE user_id = $1', [userId]);
      await tx.query('DELETE FROM webauthn_challenges WHERE user_id = $1', [userId]);
    });
  }
}
