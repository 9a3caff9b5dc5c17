-- Haven's PostgreSQL store, schema version 17: SORT and THREAD keys kept
-- per body (issue 13). A message's sort keys (mail/sortkey_rec.c: its
-- base subject, first addresses, date, message-ids, folded and ready to
-- compare) depend only on its bytes, so they are made once per body, the
-- first time a SORT or THREAD asks for them, and every later session takes
-- them as they are instead of reading each message's first 16 KiB and
-- parsing its header again. A record made by another version of the key
-- algorithm (its first byte) is made anew and replaces the row. The rows
-- go with their body (ON DELETE CASCADE); existing bodies get theirs
-- lazily, on their mailbox's first SORT.
BEGIN;

CREATE TABLE haven.sort_keys (
	body_id bigint PRIMARY KEY REFERENCES haven.bodies (id) ON DELETE CASCADE,
	keys bytea NOT NULL CHECK (octet_length(keys) >= 10)
);

GRANT SELECT, INSERT, UPDATE ON haven.sort_keys TO haven_mail;

INSERT INTO haven.schema_migrations (version, name) VALUES (17, 'sort-keys');

COMMIT;
