-- Two-factor sign-in: an authenticator app (TOTP), passkeys (WebAuthn) and single-use recovery
-- codes. An account has two-factor sign-in while it has a confirmed TOTP secret or a passkey.

-- The TOTP secret is stored encrypted (AES-256-GCM, key from TWO_FACTOR_KEY), so a database dump
-- alone does not give codes. `last_step` is the RFC 6238 time step of the last code accepted: a
-- code is accepted only for a later step, so one code never signs in twice (replay).
CREATE TABLE user_totp (
  user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret_box   text NOT NULL,
  -- Null while enrolment waits for the first code from the app.
  confirmed_at timestamptz,
  last_step    bigint NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT user_totp_secret_box_check CHECK (char_length(secret_box) <= 512)
);

-- Recovery codes are kept as SHA-256 hashes (they are 50 random bits: no slow hash needed, and
-- they are rate-limited like codes); used ones stay, marked, so that a reuse is told apart.
CREATE TABLE user_recovery_codes (
  user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash text NOT NULL,
  used_at   timestamptz,
  PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE user_passkeys (
  -- The credential id (base64url), unique across every account.
  id           text PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         text NOT NULL,
  public_key   bytea NOT NULL,
  counter      bigint NOT NULL DEFAULT 0,
  transports   text[] NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  CONSTRAINT user_passkeys_id_check CHECK (char_length(id) <= 1024),
  CONSTRAINT user_passkeys_name_check CHECK (char_length(name) BETWEEN 1 AND 64)
);
CREATE INDEX user_passkeys_user_idx ON user_passkeys (user_id);

-- WebAuthn challenges handed out and not yet answered; each is taken (deleted) by its one answer.
CREATE TABLE webauthn_challenges (
  challenge  text PRIMARY KEY,
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose    text NOT NULL,
  expires_at timestamptz NOT NULL,
  CONSTRAINT webauthn_challenges_purpose_check CHECK (purpose IN ('register', 'authenticate'))
);
CREATE INDEX webauthn_challenges_user_idx ON webauthn_challenges (user_id, expires_at);

-- A server's "moderators must have two-factor sign-in" rule (Discord's MFA requirement).
ALTER TABLE servers ADD COLUMN moderators_need_two_factor boolean NOT NULL DEFAULT false;
