-- Haven's PostgreSQL store, schema version 12: QUOTA (RFC 9208) defaults,
-- and the usage kept right when a mailbox is deleted.
-- A user whose row sets no limit (quota_bytes / quota_messages NULL or 0)
-- gets the one havend is configured with (quota_bytes, quota_messages in
-- haven.conf), which its workers give every connection they open as the
-- settings haven.default_quota_bytes and haven.default_quota_messages
-- (absent or 0: none). The check stays where it was, in the transaction
-- of the APPEND or COPY, under the user's row lock, so concurrent
-- appends on any host cannot pass the limit together.

BEGIN;

CREATE OR REPLACE FUNCTION haven.check_quota(p_user bigint, p_bytes bigint, p_count bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	u record;
	max_bytes bigint;
	max_messages bigint;
BEGIN
	SELECT quota_bytes, quota_messages, used_bytes, used_messages INTO u
	  FROM haven.users WHERE id = p_user FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'user % is gone', p_user USING ERRCODE = 'HVNOX';
	END IF;
	max_bytes := coalesce(nullif(u.quota_bytes, 0),
		nullif(current_setting('haven.default_quota_bytes', true), '')::bigint);
	max_messages := coalesce(nullif(u.quota_messages, 0),
		nullif(current_setting('haven.default_quota_messages', true), '')::bigint);
	IF (max_bytes > 0 AND u.used_bytes + p_bytes > max_bytes) OR
	   (max_messages > 0 AND u.used_messages + p_count > max_messages) THEN
		RAISE EXCEPTION 'Quota exceeded' USING ERRCODE = 'HVQUO';
	END IF;
END $$;

-- DELETE of a mailbox that holds messages: its messages go first, by
-- name. Left to the foreign key's cascade, they went after the mailbox
-- row, and the counter trigger (0007), which finds a row's user through
-- its mailbox, found none: the user's usage stayed as if they were there.
CREATE OR REPLACE FUNCTION haven.mailbox_delete(p_user bigint, p_name text) RETURNS void
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
		DELETE FROM haven.messages WHERE mailbox_id = r.id;
		DELETE FROM haven.mailboxes WHERE id = r.id;
	END IF;
END $$;

-- What such deletes left behind: every user's usage counted again.
UPDATE haven.users u
   SET used_bytes = coalesce(c.bytes, 0), used_messages = coalesce(c.n, 0)
  FROM (SELECT us.id, sum(x.size) AS bytes, count(x.*) AS n
	  FROM haven.users us
	  LEFT JOIN haven.mailboxes mb ON mb.user_id = us.id
	  LEFT JOIN haven.messages x ON x.mailbox_id = mb.id
	 GROUP BY us.id) c
 WHERE u.id = c.id AND (u.used_bytes, u.used_messages) <> (coalesce(c.bytes, 0), coalesce(c.n, 0));

REVOKE EXECUTE ON FUNCTION haven.check_quota(bigint, bigint, bigint),
	haven.mailbox_delete(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION haven.check_quota(bigint, bigint, bigint),
	haven.mailbox_delete(bigint, text) TO haven_mail;

INSERT INTO haven.schema_migrations (version, name) VALUES (12, 'quota-defaults');

COMMIT;
