-- Haven's PostgreSQL store, schema version 7: an APPEND or EXPUNGE no
-- longer rewrites the body's wide row, and STORE and APPEND without
-- keywords no longer run the keyword function per message.
--
-- A body's reference count (and since version 6 its orphan time) lived in
-- its bodies row, beside the structure, the search text and the text's
-- trigram index. Every APPEND and every EXPUNGE changed the count, and
-- PostgreSQL writes a changed row as a new version of the whole row; when
-- that version does not fit on the old one's page (bodies rows are wide)
-- every index of the table gets an entry for it, the trigram GIN index
-- too, which means extracting every trigram of the text again. An APPEND
-- thus paid the trigram extraction twice and an EXPUNGE once (in the
-- benchmark's mixed profile, 9% of all CPU was in GIN inserts), and the
-- table and its index bloated with each change. The count and the orphan
-- time now live in haven.body_refs, a narrow row per body that is
-- updated in place; the bodies row is written once, when stored.
--
-- Locks: whoever takes a body back (haven.body_store's dedup) locks the
-- bodies row first and the body_refs row after (the counter trigger);
-- sweep and delete_user lock bodies rows before they touch body_refs, in
-- the same order, so the two cannot wait for each other.
--
-- kw_apply is a SQL function PostgreSQL cannot inline (it has subqueries),
-- so each call starts an executor: store_flags called it for every
-- message of every STORE and append for every APPEND, keywords or not.
-- They now call it only when keywords are named.
BEGIN;

CREATE TABLE haven.body_refs (
	body_id bigint PRIMARY KEY REFERENCES haven.bodies (id) ON DELETE CASCADE,
	-- the messages pointing to the body
	refs bigint NOT NULL DEFAULT 0,
	-- when refs went to 0 (NULL while a message holds the body)
	orphaned_at timestamptz
);
CREATE INDEX body_refs_orphaned ON haven.body_refs (orphaned_at)
	WHERE orphaned_at IS NOT NULL;
-- (a stored body at 0 without an orphan time can only come from before
-- version 6, which deleted such bodies at once: it is an orphan from now)
INSERT INTO haven.body_refs (body_id, refs, orphaned_at)
SELECT id, refs, CASE WHEN refs <= 0 THEN coalesce(orphaned_at, now()) END
  FROM haven.bodies WHERE sha256 IS NOT NULL;
DROP INDEX haven.bodies_orphaned;
ALTER TABLE haven.bodies DROP COLUMN refs, DROP COLUMN orphaned_at;
GRANT SELECT, INSERT, UPDATE, DELETE ON haven.body_refs TO haven_mail;

-- The trigger of INSERT and DELETE of messages (UPDATE has
-- messages_update_counts since version 5).
CREATE OR REPLACE FUNCTION haven.messages_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		UPDATE haven.mailboxes m
		   SET messages = m.messages + d.n, unseen = m.unseen + d.unseen,
		       deleted = m.deleted + d.deleted, bytes = m.bytes + d.bytes
		  FROM (SELECT mailbox_id, count(*) AS n,
			       count(*) FILTER (WHERE flags & 1 = 0) AS unseen,
			       count(*) FILTER (WHERE flags & 8 <> 0) AS deleted,
			       sum(size) AS bytes
			  FROM new_rows GROUP BY mailbox_id) d
		 WHERE m.id = d.mailbox_id;
		INSERT INTO haven.body_refs AS r (body_id, refs)
		SELECT body_id, count(*) FROM new_rows GROUP BY body_id
		    ON CONFLICT (body_id) DO UPDATE SET refs = r.refs + excluded.refs,
						       orphaned_at = NULL;
		UPDATE haven.users u
		   SET used_messages = u.used_messages + d.n, used_bytes = u.used_bytes + d.bytes
		  FROM (SELECT mb.user_id, count(*) AS n, sum(r.size) AS bytes
			  FROM new_rows r JOIN haven.mailboxes mb ON mb.id = r.mailbox_id
			 GROUP BY mb.user_id) d
		 WHERE u.id = d.user_id;
	ELSIF TG_OP = 'DELETE' THEN
		UPDATE haven.mailboxes m
		   SET messages = m.messages - d.n, unseen = m.unseen - d.unseen,
		       deleted = m.deleted - d.deleted, bytes = m.bytes - d.bytes
		  FROM (SELECT mailbox_id, count(*) AS n,
			       count(*) FILTER (WHERE flags & 1 = 0) AS unseen,
			       count(*) FILTER (WHERE flags & 8 <> 0) AS deleted,
			       sum(size) AS bytes
			  FROM old_rows GROUP BY mailbox_id) d
		 WHERE m.id = d.mailbox_id;
		UPDATE haven.body_refs r
		   SET refs = r.refs - d.n,
		       orphaned_at = CASE WHEN r.refs - d.n <= 0 THEN now() END
		  FROM (SELECT body_id, count(*) AS n FROM old_rows GROUP BY body_id) d
		 WHERE r.body_id = d.body_id;
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

CREATE OR REPLACE FUNCTION haven.sweep(keep interval DEFAULT interval '30 days') RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
	o bigint;
	old bigint[];
BEGIN
	DELETE FROM haven.bodies WHERE sha256 IS NULL AND created_at < now() - interval '1 day';
	GET DIAGNOSTICS n = ROW_COUNT;
	-- Orphans are locked first (one that a session is taking back right
	-- now is skipped), then their count is read again by a new statement,
	-- which sees every message committed before the lock.
	SELECT array_agg(s.id) INTO old FROM (
		SELECT b.id FROM haven.bodies b JOIN haven.body_refs r ON r.body_id = b.id
		 WHERE r.orphaned_at < now() - interval '1 day' AND r.refs <= 0
		   FOR UPDATE OF b SKIP LOCKED) s;
	DELETE FROM haven.bodies b USING haven.body_refs r
	 WHERE b.id = ANY (old) AND r.body_id = b.id AND r.refs <= 0;
	GET DIAGNOSTICS o = ROW_COUNT;
	DELETE FROM haven.expunged WHERE expunged_at < now() - keep;
	RETURN n + o;
END $$;

CREATE OR REPLACE FUNCTION haven.delete_user(login text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	usr bigint;
	dom bigint;
	held bigint[];
BEGIN
	PERFORM haven.names_lock();
	usr := haven.user_lock(login);
	PERFORM FROM haven.mailboxes b WHERE b.user_id = usr ORDER BY b.id FOR UPDATE;
	SELECT array_agg(DISTINCT m.body_id) INTO held
	  FROM haven.messages m JOIN haven.mailboxes b ON m.mailbox_id = b.id
	 WHERE b.user_id = usr;
	-- bodies before their counts, as a session taking one back locks them
	PERFORM FROM haven.bodies WHERE id = ANY (held) ORDER BY id FOR UPDATE;
	DELETE FROM haven.messages m USING haven.mailboxes b
	 WHERE b.user_id = usr AND m.mailbox_id = b.id;
	DELETE FROM haven.bodies b USING haven.body_refs r
	 WHERE b.id = ANY (held) AND r.body_id = b.id AND r.refs <= 0;
	DELETE FROM haven.users u WHERE u.id = usr RETURNING u.domain_id INTO dom;
	PERFORM haven.domain_prune(dom);
END $$;

CREATE OR REPLACE FUNCTION haven.store_flags(p_mailbox bigint, p_uids bigint[], p_op integer,
	p_flags integer, p_kw text[], p_unchangedsince bigint)
RETURNS TABLE (uid bigint, flags integer, keywords text[], modseq bigint, failed boolean)
LANGUAGE plpgsql AS $$
DECLARE
	ms bigint;
BEGIN
	UPDATE haven.mailboxes m SET highestmodseq = m.highestmodseq + 1,
	       keywords = CASE WHEN p_op <> 2 AND cardinality(p_kw) > 0
			       THEN haven.kw_apply(m.keywords, p_kw, 1) ELSE m.keywords END
	 WHERE m.id = p_mailbox RETURNING m.highestmodseq INTO ms;
	IF ms IS NULL THEN
		RAISE EXCEPTION 'Mailbox does not exist' USING ERRCODE = 'HVNOX';
	END IF;
	-- without keywords named: replacing leaves none, adding or removing
	-- leaves the message's own
	RETURN QUERY
	WITH want AS (
		SELECT x.uid, x.modseq AS old_modseq,
		       (CASE p_op WHEN 0 THEN p_flags WHEN 1 THEN x.flags | p_flags
				  ELSE x.flags & ~p_flags END)::smallint AS nf,
		       CASE WHEN cardinality(p_kw) > 0 THEN haven.kw_apply(x.keywords, p_kw, p_op)
			    WHEN p_op = 0 THEN '{}'::text[] ELSE x.keywords END AS nk,
		       x.flags AS of, x.keywords AS ok
		  FROM haven.messages x
		 WHERE x.mailbox_id = p_mailbox AND x.uid = ANY (p_uids)
		   FOR UPDATE),
	upd AS (
		UPDATE haven.messages x SET flags = w.nf, keywords = w.nk, modseq = ms
		  FROM want w
		 WHERE x.mailbox_id = p_mailbox AND x.uid = w.uid
		   AND (p_unchangedsince = 0 OR w.old_modseq <= p_unchangedsince)
		   AND (w.nf <> w.of OR w.nk <> w.ok)
		RETURNING x.uid, x.flags::integer, x.keywords, x.modseq)
	SELECT u.uid, u.flags, u.keywords, u.modseq, false FROM upd u
	UNION ALL
	SELECT w.uid, w.of::integer, w.ok, w.old_modseq, true FROM want w
	 WHERE p_unchangedsince > 0 AND w.old_modseq > p_unchangedsince;
END $$;

CREATE OR REPLACE FUNCTION haven.append(p_user bigint, p_name text, p_token uuid, p_body bigint,
	p_data bytea, p_sha256 bytea, p_size bigint, p_structure bytea, p_text text,
	p_complete boolean, p_body_start integer, p_addr_start integer, p_sent_day integer,
	p_flags integer,
	p_kw text[], p_date timestamptz, p_tz integer, OUT uidvalidity bigint, OUT uid bigint)
LANGUAGE plpgsql AS $$
DECLARE
	b bigint;
	mb record;
BEGIN
	PERFORM haven.check_quota(p_user, p_size, 1);
	SELECT m.id, m.uidvalidity, m.uidnext, m.highestmodseq, m.noselect INTO mb
	  FROM haven.mailboxes m WHERE m.user_id = p_user AND m.name = p_name FOR UPDATE;
	IF mb.id IS NULL THEN
		RAISE EXCEPTION 'Mailbox does not exist' USING ERRCODE = 'HVTRY';
	END IF;
	IF mb.noselect THEN
		RAISE EXCEPTION 'Mailbox is a hierarchy level, it holds no messages'
		USING ERRCODE = 'HVCAN';
	END IF;
	IF mb.uidnext > 4294967295 THEN
		RAISE EXCEPTION 'No UIDs left in this mailbox' USING ERRCODE = 'HVLIM';
	END IF;
	b := haven.body_store(p_body, p_data, p_sha256, p_size, p_structure, p_text, p_complete,
			      p_body_start, p_addr_start, p_sent_day);
	UPDATE haven.mailboxes m SET uidnext = m.uidnext + 1, highestmodseq = m.highestmodseq + 1,
	       keywords = CASE WHEN cardinality(p_kw) > 0 THEN haven.kw_apply(m.keywords, p_kw, 1)
			       ELSE m.keywords END
	 WHERE m.id = mb.id;
	INSERT INTO haven.messages (mailbox_id, uid, body_id, modseq, flags, keywords,
				    internaldate, tz_minutes, size)
	VALUES (mb.id, mb.uidnext, b, mb.highestmodseq + 1, p_flags,
		CASE WHEN cardinality(p_kw) > 0 THEN haven.kw_apply('{}', p_kw, 0)
		     ELSE '{}'::text[] END, p_date, p_tz, p_size);
	IF p_token IS NOT NULL THEN
		INSERT INTO haven.append_log (token, mailbox_id, uid) VALUES (p_token, mb.id, mb.uidnext);
	END IF;
	uidvalidity := mb.uidvalidity;
	uid := mb.uidnext;
END $$;

INSERT INTO haven.schema_migrations (version, name) VALUES (7, 'narrow-body-refs');

COMMIT;
