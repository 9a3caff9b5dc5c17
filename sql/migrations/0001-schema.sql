-- Haven's PostgreSQL store, schema version 1: users, mailboxes, messages,
-- bodies stored once, what is parsed at delivery, the expunge log.
--
-- Applied in order with plain psql (psql -v ON_ERROR_STOP=1 -f FILE) or by
-- haven-admin db migrate; each migration records itself in
-- haven.schema_migrations inside its own transaction.
--
-- Invariants the backend relies on (backends/pgsql/):
--  * UIDs are allocated from mailboxes.uidnext and MODSEQs from
--    mailboxes.highestmodseq by UPDATE ... RETURNING in the transaction
--    that writes the messages, under that row's lock: never MAX(), never
--    in process memory, so several hosts can share one database.
--  * Mutating transactions lock users, then mailboxes in ascending id,
--    then messages (no deadlock between them).
--  * The counters in mailboxes and users are kept by the statement
--    triggers below, in the same transaction as the change.
BEGIN;

CREATE SCHEMA IF NOT EXISTS haven;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE haven.schema_migrations (
	version integer PRIMARY KEY,
	name text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE haven.domains (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL UNIQUE CHECK (name = lower(name) AND name <> '')
);

CREATE TABLE haven.users (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	login text NOT NULL CHECK (login <> '' AND login !~ '[[:cntrl:][:space:]/]'),
	domain_id bigint REFERENCES haven.domains (id) ON DELETE RESTRICT,
	-- crypt(3) hash ($2b$ bcrypt, $6$ sha512-crypt, $y$ yescrypt);
	-- NULL: this user cannot log in with a password
	password text,
	enabled boolean NOT NULL DEFAULT true,
	quota_bytes bigint CHECK (quota_bytes IS NULL OR quota_bytes >= 0),
	quota_messages bigint CHECK (quota_messages IS NULL OR quota_messages >= 0),
	-- optional system identity (else havend's mail_user / mail_home)
	uid integer CHECK (uid IS NULL OR uid > 0),
	gid integer CHECK (gid IS NULL OR gid > 0),
	home text,
	used_bytes bigint NOT NULL DEFAULT 0,
	used_messages bigint NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_login ON haven.users (lower(login));
CREATE INDEX users_domain ON haven.users (domain_id);

CREATE TABLE haven.aliases (
	alias text PRIMARY KEY CHECK (alias = lower(alias) AND alias <> ''),
	user_id bigint NOT NULL REFERENCES haven.users (id) ON DELETE CASCADE
);
CREATE INDEX aliases_user ON haven.aliases (user_id);

-- UIDVALIDITY is never reused: a mailbox deleted and created again, even
-- within the same second or after a restart, gets a greater one.
CREATE SEQUENCE haven.uidvalidity_seq AS bigint MINVALUE 1 MAXVALUE 4294967295 NO CYCLE;

CREATE TABLE haven.mailboxes (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES haven.users (id) ON DELETE CASCADE,
	-- UTF-8, hierarchy delimiter '/', "INBOX" for the inbox
	name text NOT NULL CHECK (name <> '' AND name !~ '[[:cntrl:]]'),
	-- RFC 6154 attributes, e.g. {\Sent}
	special_use text[] NOT NULL DEFAULT '{}',
	-- a hierarchy level kept for its children after DELETE (\Noselect)
	noselect boolean NOT NULL DEFAULT false,
	-- every keyword its messages have had (the FLAGS response)
	keywords text[] NOT NULL DEFAULT '{}',
	uidvalidity bigint NOT NULL DEFAULT nextval('haven.uidvalidity_seq'),
	uidnext bigint NOT NULL DEFAULT 1 CHECK (uidnext BETWEEN 1 AND 4294967296),
	highestmodseq bigint NOT NULL DEFAULT 1 CHECK (highestmodseq >= 1),
	-- \Recent: UIDs from here on have not been in a read-write view yet
	first_recent bigint NOT NULL DEFAULT 1,
	messages bigint NOT NULL DEFAULT 0,
	unseen bigint NOT NULL DEFAULT 0,
	deleted bigint NOT NULL DEFAULT 0,
	bytes bigint NOT NULL DEFAULT 0,
	UNIQUE (user_id, name)
) WITH (fillfactor = 70);

CREATE TABLE haven.subscriptions (
	user_id bigint NOT NULL REFERENCES haven.users (id) ON DELETE CASCADE,
	name text NOT NULL,
	PRIMARY KEY (user_id, name)
);

-- Message bytes, stored once however many mailboxes hold them. A body
-- being uploaded has no sha256 yet and belongs to no message; one that
-- stays so (its session was killed) is removed by haven.sweep().
CREATE TABLE haven.bodies (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	sha256 bytea UNIQUE CHECK (sha256 IS NULL OR octet_length(sha256) = 32),
	size bigint NOT NULL CHECK (size >= 0),
	-- parsed once at delivery (mail/structure.h: ENVELOPE, BODY,
	-- BODYSTRUCTURE and every part's byte range)
	structure bytea,
	-- SEARCH: the folded text of every header field, the MIME headers,
	-- the text parts and the parsed addresses, as the evaluator in
	-- mail/search_eval.c sees them (separators \x01); text_complete:
	-- nothing was left out
	search_text text,
	text_complete boolean NOT NULL DEFAULT true,
	-- where in search_text the body's text and the parsed addresses
	-- begin (characters, from 1; mail/search.h)
	body_start integer NOT NULL DEFAULT 1,
	addr_start integer NOT NULL DEFAULT 1,
	-- SENT*: day of the Date: field in its own zone, days since 1970
	sent_day integer,
	refs bigint NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bodies_search ON haven.bodies USING gin (search_text gin_trgm_ops);
CREATE INDEX bodies_uploading ON haven.bodies (created_at) WHERE sha256 IS NULL;

-- Chunks of 256 KiB (the last one shorter), uncompressed so that a range
-- read touches only the TOAST chunks it needs.
CREATE TABLE haven.body_chunks (
	body_id bigint NOT NULL REFERENCES haven.bodies (id) ON DELETE CASCADE,
	seq integer NOT NULL CHECK (seq >= 0),
	data bytea NOT NULL,
	PRIMARY KEY (body_id, seq)
);
ALTER TABLE haven.body_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE haven.messages (
	mailbox_id bigint NOT NULL REFERENCES haven.mailboxes (id) ON DELETE CASCADE,
	uid bigint NOT NULL CHECK (uid BETWEEN 1 AND 4294967295),
	body_id bigint NOT NULL REFERENCES haven.bodies (id),
	modseq bigint NOT NULL,
	-- \Seen 1, \Answered 2, \Flagged 4, \Deleted 8, \Draft 16
	flags smallint NOT NULL DEFAULT 0 CHECK (flags BETWEEN 0 AND 31),
	keywords text[] NOT NULL DEFAULT '{}',
	internaldate timestamptz NOT NULL,
	tz_minutes smallint NOT NULL DEFAULT 0,
	savedate timestamptz NOT NULL DEFAULT now(),
	size bigint NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
) WITH (fillfactor = 90);
CREATE INDEX messages_modseq ON haven.messages (mailbox_id, modseq);
CREATE INDEX messages_body ON haven.messages (body_id);
CREATE INDEX messages_unseen ON haven.messages (mailbox_id, uid) WHERE flags & 1 = 0;
CREATE INDEX messages_deleted ON haven.messages (mailbox_id, uid) WHERE flags & 8 <> 0;

-- What left each mailbox, for views that still hold it and for QRESYNC.
CREATE TABLE haven.expunged (
	mailbox_id bigint NOT NULL REFERENCES haven.mailboxes (id) ON DELETE CASCADE,
	uid bigint NOT NULL,
	modseq bigint NOT NULL,
	expunged_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX expunged_modseq ON haven.expunged (mailbox_id, modseq);

-- ---- counters, kept per statement ----------------------------------------

-- What the rows a statement inserted, changed or removed do to the counters
-- of their mailboxes, users and bodies (one trigger run per statement).
CREATE FUNCTION haven.messages_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		UPDATE haven.mailboxes m
		   SET messages = m.messages - d.n, unseen = m.unseen - d.unseen,
		       deleted = m.deleted - d.deleted, bytes = m.bytes - d.bytes
		  FROM (SELECT mailbox_id, count(*) AS n,
			       count(*) FILTER (WHERE flags & 1 = 0) AS unseen,
			       count(*) FILTER (WHERE flags & 8 <> 0) AS deleted,
			       sum(size) AS bytes
			  FROM old_rows GROUP BY mailbox_id) d
		 WHERE m.id = d.mailbox_id;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		UPDATE haven.mailboxes m
		   SET messages = m.messages + d.n, unseen = m.unseen + d.unseen,
		       deleted = m.deleted + d.deleted, bytes = m.bytes + d.bytes
		  FROM (SELECT mailbox_id, count(*) AS n,
			       count(*) FILTER (WHERE flags & 1 = 0) AS unseen,
			       count(*) FILTER (WHERE flags & 8 <> 0) AS deleted,
			       sum(size) AS bytes
			  FROM new_rows GROUP BY mailbox_id) d
		 WHERE m.id = d.mailbox_id;
	END IF;
	IF TG_OP = 'INSERT' THEN
		UPDATE haven.bodies b SET refs = b.refs + d.n
		  FROM (SELECT body_id, count(*) AS n FROM new_rows GROUP BY body_id) d
		 WHERE b.id = d.body_id;
		UPDATE haven.users u
		   SET used_messages = u.used_messages + d.n, used_bytes = u.used_bytes + d.bytes
		  FROM (SELECT mb.user_id, count(*) AS n, sum(r.size) AS bytes
			  FROM new_rows r JOIN haven.mailboxes mb ON mb.id = r.mailbox_id
			 GROUP BY mb.user_id) d
		 WHERE u.id = d.user_id;
	ELSIF TG_OP = 'DELETE' THEN
		UPDATE haven.bodies b SET refs = b.refs - d.n
		  FROM (SELECT body_id, count(*) AS n FROM old_rows GROUP BY body_id) d
		 WHERE b.id = d.body_id;
		DELETE FROM haven.bodies b
		 WHERE b.id IN (SELECT DISTINCT body_id FROM old_rows) AND b.refs <= 0;
		-- (rows of a mailbox being deleted: its user row is still there)
		UPDATE haven.users u
		   SET used_messages = u.used_messages - d.n, used_bytes = u.used_bytes - d.bytes
		  FROM (SELECT mb.user_id, count(*) AS n, sum(r.size) AS bytes
			  FROM old_rows r JOIN haven.mailboxes mb ON mb.id = r.mailbox_id
			 GROUP BY mb.user_id) d
		 WHERE u.id = d.user_id;
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER messages_insert_counts AFTER INSERT ON haven.messages
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION haven.messages_counts();
CREATE TRIGGER messages_update_counts AFTER UPDATE ON haven.messages
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION haven.messages_counts();
CREATE TRIGGER messages_delete_counts AFTER DELETE ON haven.messages
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION haven.messages_counts();

-- ---- change notification -------------------------------------------------

-- One channel per user ("haven_<user id>"), payload "<mailbox id>:<highest
-- modseq>": a hint for the user's workers on every host, sent at commit;
-- identical payloads of one transaction fold into one.
CREATE FUNCTION haven.mailbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	IF TG_OP = 'UPDATE' AND NEW.highestmodseq = OLD.highestmodseq
	   AND NEW.name = OLD.name AND NEW.noselect = OLD.noselect THEN
		RETURN NULL;
	END IF;
	PERFORM pg_notify('haven_' || r.user_id, r.id || ':' || r.highestmodseq);
	RETURN NULL;
END $$;

CREATE TRIGGER mailboxes_notify AFTER INSERT OR UPDATE OR DELETE ON haven.mailboxes
	FOR EACH ROW EXECUTE FUNCTION haven.mailbox_notify();

-- ---- housekeeping --------------------------------------------------------

-- Bodies whose upload never finished (a killed session), and expunge log
-- entries older than keep; what a cron job or haven-admin runs.
CREATE FUNCTION haven.sweep(keep interval DEFAULT interval '30 days') RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	DELETE FROM haven.bodies WHERE sha256 IS NULL AND created_at < now() - interval '1 day';
	GET DIAGNOSTICS n = ROW_COUNT;
	DELETE FROM haven.expunged WHERE expunged_at < now() - keep;
	RETURN n;
END $$;

INSERT INTO haven.schema_migrations (version, name) VALUES (1, 'schema');

COMMIT;
