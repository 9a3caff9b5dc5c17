-- Haven's PostgreSQL store, schema version 5: SELECT and the \Recent claim
-- of a sync no longer make a transaction of their own that waits for a
-- WAL flush when they change nothing.
--
-- Version 3's select_mailbox locked the mailbox row (SELECT ... FOR UPDATE)
-- on every SELECT, and claim_recent on every sync of a read-write view that
-- saw new messages: a row lock gives the transaction an id, so its commit
-- writes a commit record and, with synchronous_commit on, waits for the WAL
-- flush, an fsync per SELECT even when nothing was claimed. Both now read
-- the row without a lock and lock it only when there are unclaimed
-- messages, reading first_recent again under the lock (a concurrent claim
-- may have taken them meanwhile: the claim stays "the first read-write view
-- gets them", exactly as before).
--
-- A claim that does write is a hint, not mail: the commit does not wait for
-- its WAL flush (synchronous_commit off for this transaction only; a crash
-- before the flush loses the claim, and those messages are \Recent once
-- more in the next view, which RFC 3501 allows after a server restart).
-- Every transaction that changes mail still commits as the administrator
-- configured.
--
-- The counter trigger of an UPDATE of messages (STORE) wrote the mailbox
-- row twice, once taking the old rows off and once adding the new ones,
-- even when no counter moved (\Flagged, keywords): the row already
-- updated for the MODSEQ then got two more versions, each with a foreign
-- key check. It now writes the difference once, and only when there is one.
BEGIN;

-- (0001's haven.messages_counts stays the trigger of INSERT and DELETE.)
CREATE FUNCTION haven.messages_update_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE haven.mailboxes m
	   SET messages = m.messages + d.n, unseen = m.unseen + d.unseen,
	       deleted = m.deleted + d.deleted, bytes = m.bytes + d.bytes
	  FROM (SELECT x.mailbox_id, sum(x.n) AS n, sum(x.unseen) AS unseen,
		       sum(x.deleted) AS deleted, sum(x.bytes) AS bytes
		  FROM (SELECT mailbox_id, 1 AS n, (flags & 1 = 0)::int AS unseen,
			       (flags & 8 <> 0)::int AS deleted, size AS bytes FROM new_rows
			UNION ALL
			SELECT mailbox_id, -1, -(flags & 1 = 0)::int, -(flags & 8 <> 0)::int, -size
			  FROM old_rows) x
		 GROUP BY x.mailbox_id
		HAVING sum(x.n) <> 0 OR sum(x.unseen) <> 0 OR sum(x.deleted) <> 0
		    OR sum(x.bytes) <> 0) d
	 WHERE m.id = d.mailbox_id;
	RETURN NULL;
END $$;

DROP TRIGGER messages_update_counts ON haven.messages;
CREATE TRIGGER messages_update_counts AFTER UPDATE ON haven.messages
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION haven.messages_update_counts();

-- The claim itself, on a row known to have unclaimed messages below
-- p_uidnext: first_recent read again under the row lock; returns where the
-- caller's \Recent begins (p_uidnext: nothing left to claim).
CREATE FUNCTION haven.recent_take(p_mailbox bigint, p_uidnext bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	fr bigint;
BEGIN
	SELECT first_recent INTO fr FROM haven.mailboxes WHERE id = p_mailbox FOR UPDATE;
	IF fr IS NULL OR fr >= p_uidnext THEN
		RETURN p_uidnext;
	END IF;
	PERFORM set_config('synchronous_commit', 'off', true);
	UPDATE haven.mailboxes SET first_recent = p_uidnext WHERE id = p_mailbox;
	RETURN fr;
END $$;

CREATE OR REPLACE FUNCTION haven.select_mailbox(p_user bigint, p_name text, p_readonly boolean,
	OUT id bigint, OUT uidvalidity bigint, OUT uidnext bigint, OUT highestmodseq bigint,
	OUT messages bigint, OUT unseen bigint, OUT recent_from bigint, OUT recent bigint,
	OUT first_unseen bigint, OUT keywords text[])
LANGUAGE plpgsql AS $$
DECLARE
	fr bigint;
	fu bigint;
	ns boolean;
BEGIN
	SELECT m.id, m.uidvalidity, m.uidnext, m.highestmodseq, m.messages, m.unseen, m.first_recent,
	       m.keywords, m.noselect
	  INTO id, uidvalidity, uidnext, highestmodseq, messages, unseen, fr, keywords, ns
	  FROM haven.mailboxes m
	 WHERE m.user_id = p_user AND m.name = p_name;
	IF id IS NULL THEN
		RAISE EXCEPTION 'Mailbox does not exist' USING ERRCODE = 'HVNOX';
	END IF;
	IF ns THEN
		RAISE EXCEPTION 'Mailbox is a hierarchy level, it holds no messages'
		USING ERRCODE = 'HVCAN';
	END IF;
	-- A read-only view sees what nobody claimed yet as \Recent and
	-- leaves it for the next read-write one.
	recent_from := LEAST(fr, uidnext);
	IF NOT p_readonly AND fr < uidnext THEN
		recent_from := haven.recent_take(select_mailbox.id, uidnext);
	END IF;
	recent := 0;
	IF recent_from < uidnext THEN
		SELECT count(*) INTO recent FROM haven.messages x
		 WHERE x.mailbox_id = select_mailbox.id AND x.uid >= recent_from AND x.uid < uidnext;
	END IF;
	first_unseen := 0;
	IF unseen > 0 THEN
		SELECT min(x.uid) INTO fu FROM haven.messages x
		 WHERE x.mailbox_id = select_mailbox.id AND x.flags & 1 = 0 AND x.uid < uidnext;
		SELECT count(*) + 1 INTO first_unseen FROM haven.messages x
		 WHERE x.mailbox_id = select_mailbox.id AND x.uid < fu;
	END IF;
END $$;

CREATE OR REPLACE FUNCTION haven.claim_recent(p_mailbox bigint, p_uidnext bigint,
	p_readonly boolean)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	fr bigint;
BEGIN
	SELECT first_recent INTO fr FROM haven.mailboxes WHERE id = p_mailbox;
	IF p_readonly OR fr IS NULL OR fr >= p_uidnext THEN
		RETURN LEAST(coalesce(fr, p_uidnext), p_uidnext);
	END IF;
	RETURN haven.recent_take(p_mailbox, p_uidnext);
END $$;

REVOKE EXECUTE ON FUNCTION haven.recent_take(bigint, bigint), haven.messages_update_counts()
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION haven.recent_take(bigint, bigint) TO haven_mail;

INSERT INTO haven.schema_migrations (version, name) VALUES (5, 'fewer-commits');

COMMIT;
