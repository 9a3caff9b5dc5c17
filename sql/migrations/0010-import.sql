-- Haven's PostgreSQL store, schema version 10: import (haven-admin import),
-- a mailbox written whole with the UIDVALIDITY, UIDs, flags, keywords and
-- dates of another server's, in one transaction of the caller's: BEGIN,
-- haven.import_begin, haven.import_message for each message (UIDs
-- ascending, below the UIDNEXT given), COMMIT. Killed half-way, the
-- transaction goes and the mailbox is as it was (absent, or empty).

BEGIN;

-- UIDVALIDITY never goes back: a mailbox created after an import gets a
-- greater one than the imported (the sequence may only be moved by its
-- owner, so this one function does it for the workers' role).
CREATE FUNCTION haven.uidvalidity_raise(p_seen bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
	SELECT setval('haven.uidvalidity_seq', p_seen)
	 WHERE p_seen > (SELECT last_value FROM haven.uidvalidity_seq);
$$;

-- The mailbox to import into, locked until the transaction ends: made if
-- absent, emptied when p_replace (one that holds messages is refused
-- otherwise). Its id.
CREATE FUNCTION haven.import_begin(p_user bigint, p_name text, p_uidvalidity bigint,
	p_uidnext bigint, p_replace boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	mb bigint;
BEGIN
	IF p_uidvalidity NOT BETWEEN 1 AND 4294967295 OR p_uidnext NOT BETWEEN 1 AND 4294967296 THEN
		RAISE EXCEPTION 'UIDVALIDITY or UIDNEXT out of range' USING ERRCODE = 'HVCAN';
	END IF;
	PERFORM 1 FROM haven.users WHERE id = p_user FOR UPDATE;
	SELECT m.id, m.messages INTO r FROM haven.mailboxes m
	 WHERE m.user_id = p_user AND m.name = p_name FOR UPDATE;
	IF r.id IS NOT NULL AND r.messages > 0 AND NOT p_replace THEN
		RAISE EXCEPTION 'Mailbox holds % messages', r.messages USING ERRCODE = 'HVEXI';
	END IF;
	IF r.id IS NULL THEN
		mb := haven.mailbox_create(p_user, p_name, '{}');
	ELSE
		mb := r.id;
		DELETE FROM haven.messages WHERE mailbox_id = mb;
		DELETE FROM haven.expunged WHERE mailbox_id = mb;
	END IF;
	PERFORM haven.uidvalidity_raise(p_uidvalidity);
	-- A view of the old mailbox sees the new UIDVALIDITY and goes; with
	-- the same one (an import run again), the modseq still moves on.
	UPDATE haven.mailboxes m
	   SET noselect = false, uidvalidity = p_uidvalidity, uidnext = p_uidnext,
	       first_recent = p_uidnext, keywords = '{}', highestmodseq = m.highestmodseq + 1
	 WHERE m.id = mb;
	RETURN mb;
END $$;

-- One message under its own UID, in the mailbox import_begin locked.
CREATE FUNCTION haven.import_message(p_user bigint, p_name text, p_token uuid, p_body bigint,
	p_data bytea, p_sha256 bytea, p_size bigint, p_structure bytea, p_text text,
	p_complete boolean, p_body_start integer, p_addr_start integer, p_sent_day integer,
	p_flags integer, p_kw text[], p_date timestamptz, p_tz integer, p_uid bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	b bigint;
	mb record;
BEGIN
	SELECT m.id, m.uidnext, m.highestmodseq INTO mb
	  FROM haven.mailboxes m WHERE m.user_id = p_user AND m.name = p_name FOR UPDATE;
	IF mb.id IS NULL THEN
		RAISE EXCEPTION 'Mailbox does not exist' USING ERRCODE = 'HVNOX';
	END IF;
	IF p_uid < 1 OR p_uid >= mb.uidnext THEN
		RAISE EXCEPTION 'UID % is not below UIDNEXT %', p_uid, mb.uidnext USING ERRCODE = 'HVCAN';
	END IF;
	b := haven.body_store(p_body, p_data, p_sha256, p_size, p_structure, p_text, p_complete,
			      p_body_start, p_addr_start, p_sent_day);
	IF cardinality(p_kw) > 0 THEN
		UPDATE haven.mailboxes m SET keywords = haven.kw_apply(m.keywords, p_kw, 1)
		 WHERE m.id = mb.id;
	END IF;
	INSERT INTO haven.messages (mailbox_id, uid, body_id, modseq, flags, keywords,
				    internaldate, tz_minutes, size)
	VALUES (mb.id, p_uid, b, mb.highestmodseq, p_flags,
		CASE WHEN cardinality(p_kw) > 0 THEN haven.kw_apply('{}', p_kw, 0)
		     ELSE '{}'::text[] END, p_date, p_tz, p_size);
END $$;

REVOKE EXECUTE ON FUNCTION haven.uidvalidity_raise(bigint), haven.import_begin(bigint, text,
	bigint, bigint, boolean), haven.import_message(bigint, text, uuid, bigint, bytea, bytea,
	bigint, bytea, text, boolean, integer, integer, integer, integer, text[], timestamptz,
	integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION haven.uidvalidity_raise(bigint), haven.import_begin(bigint, text,
	bigint, bigint, boolean), haven.import_message(bigint, text, uuid, bigint, bytea, bytea,
	bigint, bytea, text, boolean, integer, integer, integer, integer, text[], timestamptz,
	integer, bigint) TO haven_mail;

INSERT INTO haven.schema_migrations (version, name) VALUES (10, 'import');

COMMIT;
