-- The operations of Haven's PostgreSQL backend (backends/pgsql/), one
-- function per mutating IMAP operation: each call is one transaction, so a
-- worker killed at any point, or a database restarted under it, leaves the
-- operation done completely or not at all. Internal to Haven (the
-- provisioning API for administrators is in 0002); SECURITY INVOKER, run
-- with the privileges of the user workers' role.
--
-- Lock order everywhere: the users row, then mailboxes rows in ascending
-- id, then message rows; bodies are touched last (by the counter
-- triggers). Errors meant for the client carry SQLSTATEs of class HV:
--   HVNOX no such mailbox, HVTRY no such target mailbox (TRYCREATE),
--   HVEXI already exists, HVCAN cannot (e.g. INBOX), HVQUO over quota,
--   HVLIM a limit (UIDs used up), HVEXP messages expunged meanwhile.
BEGIN;

-- The mail store of a user: its id and limits; INBOX made if missing.
CREATE FUNCTION haven.store_open(p_login text, p_id bigint,
	OUT user_id bigint, OUT quota_bytes bigint, OUT quota_messages bigint)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT u.id, u.quota_bytes, u.quota_messages INTO user_id, quota_bytes, quota_messages
	  FROM haven.users u
	 WHERE (p_id > 0 AND u.id = p_id) OR (p_id <= 0 AND lower(u.login) = lower(p_login));
	IF user_id IS NULL THEN
		RAISE EXCEPTION 'no user % in the database', p_login USING ERRCODE = 'HVNOX';
	END IF;
	-- A user with no mailboxes at all (just provisioned, by any means)
	-- gets what the mbox store gives a new user: INBOX and the special-use
	-- mailboxes, those subscribed.
	IF NOT EXISTS (SELECT 1 FROM haven.mailboxes m WHERE m.user_id = store_open.user_id) THEN
		INSERT INTO haven.mailboxes (user_id, name, special_use)
		VALUES (user_id, 'INBOX', '{}'), (user_id, 'Drafts', '{\Drafts}'),
		       (user_id, 'Sent', '{\Sent}'), (user_id, 'Trash', '{\Trash}'),
		       (user_id, 'Junk', '{\Junk}'), (user_id, 'Archive', '{\Archive}')
		ON CONFLICT DO NOTHING;
		INSERT INTO haven.subscriptions (user_id, name)
		VALUES (user_id, 'Drafts'), (user_id, 'Sent'), (user_id, 'Trash'),
		       (user_id, 'Junk'), (user_id, 'Archive')
		ON CONFLICT DO NOTHING;
	END IF;
	INSERT INTO haven.mailboxes (user_id, name) VALUES (user_id, 'INBOX')
	ON CONFLICT DO NOTHING;
END $$;

-- The names above name, shortest first: "a/b/c" -> {a, a/b}.
CREATE FUNCTION haven.parents(p_name text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $$
	SELECT array_to_string((string_to_array(p_name, '/'))[1:n], '/')
	  FROM generate_series(1, array_length(string_to_array(p_name, '/'), 1) - 1) AS n
$$;

-- p_level: a hierarchy level only ("CREATE a/"), which holds no messages.
CREATE FUNCTION haven.mailbox_create(p_user bigint, p_name text, p_use text[],
	p_level boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	id bigint;
BEGIN
	IF upper(p_name) = 'INBOX' THEN
		RAISE EXCEPTION 'INBOX always exists' USING ERRCODE = 'HVEXI';
	END IF;
	SELECT m.id, m.noselect INTO r FROM haven.mailboxes m
	 WHERE m.user_id = p_user AND m.name = p_name FOR UPDATE;
	IF r.id IS NOT NULL AND (NOT r.noselect OR p_level) THEN
		RAISE EXCEPTION 'Mailbox already exists' USING ERRCODE = 'HVEXI';
	END IF;
	IF r.id IS NOT NULL THEN
		-- a hierarchy level becomes a mailbox again: a new UIDVALIDITY
		UPDATE haven.mailboxes m
		   SET noselect = false, special_use = p_use,
		       uidvalidity = nextval('haven.uidvalidity_seq'), uidnext = 1, first_recent = 1
		 WHERE m.id = r.id;
		RETURN r.id;
	END IF;
	INSERT INTO haven.mailboxes (user_id, name, noselect)
	SELECT p_user, p, true FROM haven.parents(p_name) AS p
	ON CONFLICT DO NOTHING;
	INSERT INTO haven.mailboxes (user_id, name, special_use, noselect)
	VALUES (p_user, p_name, p_use, p_level) RETURNING mailboxes.id INTO id;
	RETURN id;
END $$;

-- A mailbox with children stays as a \Noselect level without its messages;
-- one without goes. Its messages go either way (body refs: the triggers).
CREATE FUNCTION haven.mailbox_delete(p_user bigint, p_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	IF upper(p_name) = 'INBOX' THEN
		RAISE EXCEPTION 'INBOX cannot be deleted' USING ERRCODE = 'HVCAN';
	END IF;
	PERFORM 1 FROM haven.users WHERE id = p_user FOR UPDATE;
	SELECT m.id, m.noselect INTO r FROM haven.mailboxes m
	 WHERE m.user_id = p_user AND m.name = p_name FOR UPDATE;
	IF r.id IS NULL THEN
		RAISE EXCEPTION 'Mailbox does not exist' USING ERRCODE = 'HVNOX';
	END IF;
	IF EXISTS (SELECT 1 FROM haven.mailboxes c
		    WHERE c.user_id = p_user AND c.name LIKE haven.like_prefix(p_name)) THEN
		IF r.noselect THEN
			RAISE EXCEPTION 'Mailbox has children and no messages of its own'
			USING ERRCODE = 'HVCAN';
		END IF;
		DELETE FROM haven.messages WHERE mailbox_id = r.id;
		DELETE FROM haven.expunged WHERE mailbox_id = r.id;
		UPDATE haven.mailboxes SET noselect = true, special_use = '{}',
		       highestmodseq = highestmodseq + 1 WHERE id = r.id;
	ELSE
		DELETE FROM haven.mailboxes WHERE id = r.id;
	END IF;
END $$;

-- "a/b" -> the LIKE pattern of its children, "a/b/%", wildcards escaped.
CREATE FUNCTION haven.like_prefix(p_name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT replace(replace(replace(p_name, '\', '\\'), '%', '\%'), '_', '\_') || '/%'
$$;

-- Renaming INBOX moves its messages to a new mailbox and leaves INBOX
-- empty (RFC 9051 6.3.6); any other rename takes the children along.
CREATE FUNCTION haven.mailbox_rename(p_user bigint, p_old text, p_new text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	src record;
	dst bigint;
	n bigint;
	ms bigint;
BEGIN
	IF upper(p_new) = 'INBOX' THEN
		RAISE EXCEPTION 'INBOX already exists' USING ERRCODE = 'HVEXI';
	END IF;
	IF p_new LIKE haven.like_prefix(p_old) THEN
		RAISE EXCEPTION 'Cannot move a mailbox into itself' USING ERRCODE = 'HVCAN';
	END IF;
	PERFORM 1 FROM haven.users WHERE id = p_user FOR UPDATE;
	SELECT m.id, m.noselect INTO src FROM haven.mailboxes m
	 WHERE m.user_id = p_user AND m.name = (CASE WHEN upper(p_old) = 'INBOX' THEN 'INBOX' ELSE p_old END)
	   FOR UPDATE;
	IF src.id IS NULL THEN
		RAISE EXCEPTION 'Mailbox does not exist' USING ERRCODE = 'HVNOX';
	END IF;
	IF EXISTS (SELECT 1 FROM haven.mailboxes WHERE user_id = p_user AND name = p_new
		    AND NOT noselect) THEN
		RAISE EXCEPTION 'Mailbox already exists' USING ERRCODE = 'HVEXI';
	END IF;
	IF upper(p_old) = 'INBOX' THEN
		dst := haven.mailbox_create(p_user, p_new, '{}');
		SELECT count(*) INTO n FROM haven.messages WHERE mailbox_id = src.id;
		UPDATE haven.mailboxes SET uidnext = uidnext + n, highestmodseq = highestmodseq + 1
		 WHERE id = dst RETURNING highestmodseq INTO ms;
		UPDATE haven.mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = src.id;
		INSERT INTO haven.expunged (mailbox_id, uid, modseq)
		SELECT src.id, uid, (SELECT highestmodseq FROM haven.mailboxes WHERE id = src.id)
		  FROM haven.messages WHERE mailbox_id = src.id;
		UPDATE haven.messages m SET mailbox_id = dst, uid = s.rn, modseq = ms
		  FROM (SELECT uid, row_number() OVER (ORDER BY uid) AS rn
			  FROM haven.messages WHERE mailbox_id = src.id) s
		 WHERE m.mailbox_id = src.id AND m.uid = s.uid;
		RETURN;
	END IF;
	-- a \Noselect level of the same name is replaced
	DELETE FROM haven.mailboxes WHERE user_id = p_user AND name = p_new AND noselect
	   AND NOT EXISTS (SELECT 1 FROM haven.mailboxes c
			    WHERE c.user_id = p_user AND c.name LIKE haven.like_prefix(p_new));
	IF EXISTS (SELECT 1 FROM haven.mailboxes WHERE user_id = p_user AND name = p_new) THEN
		RAISE EXCEPTION 'Mailbox already exists' USING ERRCODE = 'HVEXI';
	END IF;
	INSERT INTO haven.mailboxes (user_id, name, noselect)
	SELECT p_user, p, true FROM haven.parents(p_new) AS p
	ON CONFLICT DO NOTHING;
	UPDATE haven.mailboxes
	   SET name = p_new || substr(name, length(p_old) + 1),
	       highestmodseq = highestmodseq + 1
	 WHERE user_id = p_user AND (name = p_old OR name LIKE haven.like_prefix(p_old));
END $$;

CREATE FUNCTION haven.subscribe(p_user bigint, p_name text, p_on boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF p_on THEN
		INSERT INTO haven.subscriptions (user_id, name) VALUES (p_user, p_name)
		ON CONFLICT DO NOTHING;
	ELSE
		DELETE FROM haven.subscriptions WHERE user_id = p_user AND name = p_name;
	END IF;
END $$;

-- A view of a mailbox: the snapshot it starts from, and (read-write) the
-- messages it is the first to see, its \Recent ones: UIDs from recent_from.
CREATE FUNCTION haven.select_mailbox(p_user bigint, p_name text, p_readonly boolean,
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
	 WHERE m.user_id = p_user AND m.name = p_name
	   FOR UPDATE;
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
		UPDATE haven.mailboxes m SET first_recent = m.uidnext WHERE m.id = select_mailbox.id;
	END IF;
	SELECT count(*) INTO recent FROM haven.messages x
	 WHERE x.mailbox_id = select_mailbox.id AND x.uid >= recent_from AND x.uid < uidnext;
	first_unseen := 0;
	IF unseen > 0 THEN
		SELECT min(x.uid) INTO fu FROM haven.messages x
		 WHERE x.mailbox_id = select_mailbox.id AND x.flags & 1 = 0 AND x.uid < uidnext;
		SELECT count(*) + 1 INTO first_unseen FROM haven.messages x
		 WHERE x.mailbox_id = select_mailbox.id AND x.uid < fu;
	END IF;
END $$;

-- A view that synced up to uidnext claims the new messages nobody
-- read-write has seen: their UIDs from the returned value on are \Recent
-- for it (uidnext when none). A read-only view only looks.
CREATE FUNCTION haven.claim_recent(p_mailbox bigint, p_uidnext bigint, p_readonly boolean)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	fr bigint;
BEGIN
	IF p_readonly THEN
		SELECT first_recent INTO fr FROM haven.mailboxes WHERE id = p_mailbox;
		RETURN LEAST(coalesce(fr, p_uidnext), p_uidnext);
	END IF;
	SELECT first_recent INTO fr FROM haven.mailboxes WHERE id = p_mailbox FOR UPDATE;
	IF fr IS NULL OR fr >= p_uidnext THEN
		RETURN p_uidnext;
	END IF;
	UPDATE haven.mailboxes SET first_recent = p_uidnext WHERE id = p_mailbox;
	RETURN fr;
END $$;

-- Keyword sets: case-insensitive (RFC 9051 2.3.2), first spelling kept.
CREATE FUNCTION haven.kw_apply(p_cur text[], p_kw text[], p_op integer) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE p_op
		WHEN 0 THEN coalesce((SELECT array_agg(k ORDER BY o) FROM (
			SELECT DISTINCT ON (lower(k)) k, o FROM unnest(p_kw) WITH ORDINALITY AS t(k, o)
			 ORDER BY lower(k), o) d), '{}')
		WHEN 1 THEN coalesce((SELECT array_agg(k ORDER BY o) FROM (
			SELECT DISTINCT ON (lower(k)) k, o FROM unnest(p_cur || p_kw) WITH ORDINALITY AS t(k, o)
			 ORDER BY lower(k), o) d), '{}')
		ELSE coalesce((SELECT array_agg(k ORDER BY o) FROM unnest(p_cur) WITH ORDINALITY AS t(k, o)
			 WHERE lower(k) NOT IN (SELECT lower(x) FROM unnest(p_kw) AS x)), '{}')
	END
$$;

-- STORE: op 0 replace, 1 add, 2 remove. Rows that really change get the
-- mailbox's next MODSEQ (one for the whole command); with unchangedsince
-- (> 0), rows modified after it are left alone and returned as failed.
CREATE FUNCTION haven.store_flags(p_mailbox bigint, p_uids bigint[], p_op integer,
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
	RETURN QUERY
	WITH want AS (
		SELECT x.uid, x.modseq AS old_modseq,
		       (CASE p_op WHEN 0 THEN p_flags WHEN 1 THEN x.flags | p_flags
				  ELSE x.flags & ~p_flags END)::smallint AS nf,
		       haven.kw_apply(x.keywords, p_kw, p_op) AS nk,
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

-- EXPUNGE: the \Deleted messages (of p_uids, when given) leave, into the
-- expunge log, at one new MODSEQ. Returns their UIDs.
CREATE FUNCTION haven.expunge(p_mailbox bigint, p_uids bigint[]) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
	ms bigint;
	gone bigint[];
BEGIN
	PERFORM 1 FROM haven.users u JOIN haven.mailboxes m ON m.user_id = u.id
	 WHERE m.id = p_mailbox FOR UPDATE OF u;
	PERFORM 1 FROM haven.mailboxes WHERE id = p_mailbox FOR UPDATE;
	IF NOT EXISTS (SELECT 1 FROM haven.messages x WHERE x.mailbox_id = p_mailbox
			AND x.flags & 8 <> 0 AND (p_uids IS NULL OR x.uid = ANY (p_uids))) THEN
		RETURN '{}';
	END IF;
	UPDATE haven.mailboxes SET highestmodseq = highestmodseq + 1
	 WHERE id = p_mailbox RETURNING highestmodseq INTO ms;
	WITH d AS (
		DELETE FROM haven.messages x WHERE x.mailbox_id = p_mailbox AND x.flags & 8 <> 0
		   AND (p_uids IS NULL OR x.uid = ANY (p_uids))
		RETURNING x.uid),
	l AS (INSERT INTO haven.expunged (mailbox_id, uid, modseq)
	      SELECT p_mailbox, d.uid, ms FROM d RETURNING expunged.uid)
	SELECT coalesce(array_agg(l.uid ORDER BY l.uid), '{}') INTO gone FROM l;
	RETURN gone;
END $$;

CREATE FUNCTION haven.check_quota(p_user bigint, p_bytes bigint, p_count bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	u record;
BEGIN
	SELECT quota_bytes, quota_messages, used_bytes, used_messages INTO u
	  FROM haven.users WHERE id = p_user FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'user % is gone', p_user USING ERRCODE = 'HVNOX';
	END IF;
	IF (u.quota_bytes > 0 AND u.used_bytes + p_bytes > u.quota_bytes) OR
	   (u.quota_messages > 0 AND u.used_messages + p_count > u.quota_messages) THEN
		RAISE EXCEPTION 'Quota exceeded' USING ERRCODE = 'HVQUO';
	END IF;
END $$;

-- APPEND, once the bytes are in: p_body is the body uploaded in chunks
-- beforehand (no sha256 yet), or NULL when the message is p_data itself.
-- A body with the same SHA-256 already stored is used instead (and the
-- upload dropped). p_token: the client-side identity of this append, so a
-- worker that lost the connection at commit can learn whether it happened.
CREATE FUNCTION haven.append(p_user bigint, p_name text, p_token uuid, p_body bigint,
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
		haven.kw_apply('{}', p_kw, 0), p_date, p_tz, p_size);
	IF p_token IS NOT NULL THEN
		INSERT INTO haven.append_log (token, mailbox_id, uid) VALUES (p_token, mb.id, mb.uidnext);
	END IF;
	uidvalidity := mb.uidvalidity;
	uid := mb.uidnext;
END $$;

-- The body for an append: the stored one with the same SHA-256, or the
-- upload made final, or a new one from p_data.
CREATE FUNCTION haven.body_store(p_body bigint, p_data bytea, p_sha256 bytea, p_size bigint,
	p_structure bytea, p_text text, p_complete boolean, p_body_start integer,
	p_addr_start integer, p_sent_day integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	b bigint;
BEGIN
	SELECT id INTO b FROM haven.bodies WHERE sha256 = p_sha256 FOR UPDATE;
	IF b IS NOT NULL THEN
		IF p_body IS NOT NULL THEN
			DELETE FROM haven.bodies WHERE id = p_body AND sha256 IS NULL;
		END IF;
		RETURN b;
	END IF;
	BEGIN
		IF p_body IS NOT NULL THEN
			UPDATE haven.bodies SET sha256 = p_sha256, structure = p_structure,
			       search_text = p_text, text_complete = p_complete,
			       body_start = p_body_start, addr_start = p_addr_start,
			       sent_day = p_sent_day
			 WHERE id = p_body AND sha256 IS NULL AND size = p_size RETURNING id INTO b;
			IF b IS NULL THEN
				RAISE EXCEPTION 'upload % is gone', p_body USING ERRCODE = 'HVNOX';
			END IF;
			RETURN b;
		END IF;
		INSERT INTO haven.bodies (sha256, size, structure, search_text, text_complete,
					  body_start, addr_start, sent_day)
		VALUES (p_sha256, p_size, p_structure, p_text, p_complete, p_body_start,
			p_addr_start, p_sent_day)
		RETURNING id INTO b;
		IF p_size > 0 THEN
			INSERT INTO haven.body_chunks (body_id, seq, data) VALUES (b, 0, p_data);
		END IF;
		RETURN b;
	EXCEPTION WHEN unique_violation THEN
		-- the same body stored by another session meanwhile: use it
		SELECT id INTO b FROM haven.bodies WHERE sha256 = p_sha256;
		IF p_body IS NOT NULL THEN
			DELETE FROM haven.bodies WHERE id = p_body AND sha256 IS NULL;
		END IF;
		RETURN b;
	END;
END $$;

CREATE TABLE haven.append_log (
	token uuid PRIMARY KEY,
	mailbox_id bigint NOT NULL REFERENCES haven.mailboxes (id) ON DELETE CASCADE,
	uid bigint NOT NULL,
	appended_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX append_log_age ON haven.append_log (appended_at);
CREATE INDEX append_log_mailbox ON haven.append_log (mailbox_id);

-- COPY and MOVE: new rows in the target for the same bodies (no bytes
-- copied), new UIDs in source UID order; MOVE expunges the sources in
-- the same transaction. Returns the UID pairs.
CREATE FUNCTION haven.copy(p_user bigint, p_src bigint, p_uids bigint[], p_dest text,
	p_move boolean)
RETURNS TABLE (uidvalidity bigint, src_uid bigint, dst_uid bigint)
LANGUAGE plpgsql AS $$
DECLARE
	dst record;
	n bigint;
	bytes bigint;
	base bigint;
	ms bigint;
	sms bigint;
BEGIN
	PERFORM 1 FROM haven.users WHERE id = p_user FOR UPDATE;
	SELECT m.id, m.uidvalidity, m.noselect INTO dst FROM haven.mailboxes m
	 WHERE m.user_id = p_user AND m.name = p_dest;
	IF dst.id IS NULL THEN
		RAISE EXCEPTION 'Mailbox does not exist' USING ERRCODE = 'HVTRY';
	END IF;
	IF dst.noselect THEN
		RAISE EXCEPTION 'Mailbox is a hierarchy level, it holds no messages'
		USING ERRCODE = 'HVCAN';
	END IF;
	PERFORM 1 FROM haven.mailboxes m WHERE m.id IN (p_src, dst.id) ORDER BY m.id FOR UPDATE;
	SELECT count(*), coalesce(sum(x.size), 0) INTO n, bytes FROM haven.messages x
	 WHERE x.mailbox_id = p_src AND x.uid = ANY (p_uids);
	IF n <> cardinality(p_uids) THEN
		RAISE EXCEPTION 'Some of the messages have been expunged' USING ERRCODE = 'HVEXP';
	END IF;
	IF NOT p_move THEN
		PERFORM haven.check_quota(p_user, bytes, n);
	END IF;
	UPDATE haven.mailboxes m SET uidnext = m.uidnext + n, highestmodseq = m.highestmodseq + 1,
	       keywords = haven.kw_apply(m.keywords, coalesce((
			SELECT array_agg(DISTINCT k) FROM haven.messages x, unnest(x.keywords) AS k
			 WHERE x.mailbox_id = p_src AND x.uid = ANY (p_uids)), '{}'), 1)
	 WHERE m.id = dst.id RETURNING m.highestmodseq, m.uidnext - n INTO ms, base;
	IF base + n - 1 > 4294967295 THEN
		RAISE EXCEPTION 'No UIDs left in this mailbox' USING ERRCODE = 'HVLIM';
	END IF;
	IF p_move THEN
		UPDATE haven.mailboxes m SET highestmodseq = m.highestmodseq + 1
		 WHERE m.id = p_src RETURNING m.highestmodseq INTO sms;
	END IF;
	RETURN QUERY
	WITH src AS (
		SELECT x.*, base + row_number() OVER (ORDER BY x.uid) - 1 AS nuid
		  FROM haven.messages x WHERE x.mailbox_id = p_src AND x.uid = ANY (p_uids)),
	ins AS (
		INSERT INTO haven.messages (mailbox_id, uid, body_id, modseq, flags, keywords,
					    internaldate, tz_minutes, size)
		SELECT dst.id, s.nuid, s.body_id, ms, s.flags, s.keywords, s.internaldate,
		       s.tz_minutes, s.size FROM src s
		RETURNING 1),
	del AS (
		DELETE FROM haven.messages x USING src s
		 WHERE p_move AND x.mailbox_id = p_src AND x.uid = s.uid
		RETURNING x.uid),
	logged AS (
		INSERT INTO haven.expunged (mailbox_id, uid, modseq)
		SELECT p_src, d.uid, sms FROM del d
		ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq
		RETURNING 1)
	SELECT dst.uidvalidity, s.uid, s.nuid FROM src s
	 WHERE (SELECT count(*) FROM ins) >= 0 AND (SELECT count(*) FROM logged) >= 0
	 ORDER BY s.uid;
END $$;

-- The user workers' role (0002) calls these, and only these; nobody else
-- may (functions are executable by PUBLIC unless revoked).
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA haven FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	haven.store_open(text, bigint), haven.parents(text), haven.like_prefix(text),
	haven.mailbox_create(bigint, text, text[], boolean), haven.mailbox_delete(bigint, text),
	haven.mailbox_rename(bigint, text, text), haven.subscribe(bigint, text, boolean),
	haven.select_mailbox(bigint, text, boolean), haven.claim_recent(bigint, bigint, boolean),
	haven.kw_apply(text[], text[], integer),
	haven.store_flags(bigint, bigint[], integer, integer, text[], bigint),
	haven.expunge(bigint, bigint[]), haven.check_quota(bigint, bigint, bigint),
	haven.append(bigint, text, uuid, bigint, bytea, bytea, bigint, bytea, text, boolean,
		     integer, integer, integer, integer, text[], timestamptz, integer),
	haven.body_store(bigint, bytea, bytea, bigint, bytea, text, boolean, integer, integer,
			 integer),
	haven.copy(bigint, bigint, bigint[], text, boolean),
	haven.sweep(interval)
	TO haven_mail;
GRANT SELECT, INSERT, DELETE ON haven.append_log TO haven_mail;

INSERT INTO haven.schema_migrations (version, name) VALUES (3, 'backend functions');

COMMIT;
