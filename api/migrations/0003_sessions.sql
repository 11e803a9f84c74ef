-- Server-side sessions: every session token names its row (the JWT's `sid`), and a token is
-- accepted only while its row is not revoked, so signing out, signing out everywhere and changing
-- the password take effect at once instead of when the 7-day token expires.
CREATE TABLE sessions (
  id           uuid PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  user_agent   text NOT NULL DEFAULT '',
  ip           text NOT NULL DEFAULT '',
  revoked_at   timestamptz,
  CONSTRAINT sessions_user_agent_check CHECK (char_length(user_agent) <= 200),
  CONSTRAINT sessions_ip_check CHECK (char_length(ip) <= 64)
);
-- A user's live sessions (list, sign out everywhere); expired rows are pruned per user on sign-in.
CREATE INDEX sessions_user_id_idx ON sessions (user_id, created_at);
