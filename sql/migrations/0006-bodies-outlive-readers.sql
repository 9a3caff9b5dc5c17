-- Haven's PostgreSQL store, schema version 6: a body no message holds any
-- more is kept a day before it goes.
--
-- Until now the counter trigger deleted a body with its last message. But
-- a session may be sending that body at that moment: a FETCH BODY[] of a
-- big message streams it chunk by chunk, one statement per chunk, as the
-- client reads, and another session of the user (served by the same
-- worker between two chunks) or another host expunges the message
-- meanwhile. The next chunk was gone, the literal was cut short and the
-- connection with it. RFC 2180 4.1 lets a server go on serving an
-- expunged message's data; now the bytes are still there to do so.
--
-- orphaned_at: when refs went to 0 (NULL while a message holds the body;
-- a new message of the same bytes takes it back). haven.sweep() removes
-- bodies orphaned for more than a day, like unfinished uploads;
-- delete_user removes the deleted user's at once (no session of a deleted
-- user reads on, and its data must not stay).
BEGIN;

ALTER TABLE haven.bodies ADD COLUMN orphaned_at timestamptz;
CREATE INDEX bodies_orphaned ON haven.bodies (orphaned_at) WHERE orphaned_at IS NOT NULL;

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
		UPDATE haven.bodies b SET refs = b.refs + d.n, orphaned_at = NULL
		  FROM (SELECT body_id, count(*) AS n FROM new_rows GROUP BY body_id) d
		 WHERE b.id = d.body_id;
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
		UPDATE haven.bodies b
		   SET refs = b.refs - d.n,
		       orphaned_at = CASE WHEN b.refs - d.n <= 0 THEN now() END
		  FROM (SELECT body_id, count(*) AS n FROM old_rows GROUP BY body_id) d
		 WHERE b.id = d.body_id;
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
BEGIN
	DELETE FROM haven.bodies WHERE sha256 IS NULL AND created_at < now() - interval '1 day';
	GET DIAGNOSTICS n = ROW_COUNT;
	-- refs is read again under the row lock: a message that took the
	-- body back meanwhile keeps it
	DELETE FROM haven.bodies
	 WHERE orphaned_at < now() - interval '1 day' AND refs <= 0;
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
	DELETE FROM haven.messages m USING haven.mailboxes b
	 WHERE b.user_id = usr AND m.mailbox_id = b.id;
	DELETE FROM haven.bodies WHERE id = ANY (held) AND refs <= 0;
	DELETE FROM haven.users u WHERE u.id = usr RETURNING u.domain_id INTO dom;
	PERFORM haven.domain_prune(dom);
END $$;

INSERT INTO haven.schema_migrations (version, name) VALUES (6, 'bodies-outlive-readers');

COMMIT;
