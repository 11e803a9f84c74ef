-- Whether a message notifies everyone: its text has @everyone and its author held MENTION_EVERYONE
-- when sending (or last editing) it. Without the permission @everyone is plain text, as on Discord,
-- and that decision must outlive later changes of the author's roles, so it is stored.
-- A constant default: no table rewrite, and the previous API version keeps inserting (false).
ALTER TABLE messages ADD COLUMN mention_everyone boolean NOT NULL DEFAULT false;
