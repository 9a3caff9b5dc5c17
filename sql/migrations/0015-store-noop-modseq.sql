-- Haven's PostgreSQL store, schema version 15: a STORE that changes no
-- message leaves the mailbox's HIGHESTMODSEQ as it was.
-- haven.store_flags (0007) raised the mailbox's highestmodseq before it
-- knew whether any message would change, so a STORE of flags a message
-- already had announced a new HIGHESTMODSEQ (and woke every listener of
-- the user) with nothing changed: a CONDSTORE/QRESYNC client then asked
-- for changes there were none of. Now the new MODSEQ is taken under the
-- mailbox row's lock and the row written only when some message took it
-- (RFC 7162 3.1.1: HIGHESTMODSEQ is the highest MODSEQ of the messages).

BEGIN;

CREATE OR REPLACE FUNCTION haven.store_flags(p_mailbox bigint, p_uids bigint[], p_op integer,
	p_flags integer, p_kw text[], p_unchangedsince bigint)
RETURNS TABLE (uid bigint, flags integer, keywords text[], modseq bigint, failed boolean)
LANGUAGE plpgsql AS $$
DECLARE
	ms bigint;
BEGIN
	SELECT m.highestmodseq + 1 INTO ms FROM haven.mailboxes m WHERE m.id = p_mailbox
	   FOR UPDATE;
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
	-- the mailbox row (its keyword table, its HIGHESTMODSEQ) only when a
	-- message changed: the index messages_modseq answers at once
	IF EXISTS (SELECT 1 FROM haven.messages x WHERE x.mailbox_id = p_mailbox
		   AND x.modseq = ms) THEN
		UPDATE haven.mailboxes m SET highestmodseq = ms,
		       keywords = CASE WHEN p_op <> 2 AND cardinality(p_kw) > 0
				       THEN haven.kw_apply(m.keywords, p_kw, 1) ELSE m.keywords END
		 WHERE m.id = p_mailbox;
	END IF;
END $$;

INSERT INTO haven.schema_migrations (version, name) VALUES (15, 'store-noop-modseq');

COMMIT;
