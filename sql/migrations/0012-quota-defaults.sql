-- Haven's PostgreSQL store, schema version 12: QUOTA (RFC 9208) defaults.
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

REVOKE EXECUTE ON FUNCTION haven.check_quota(bigint, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION haven.check_quota(bigint, bigint, bigint) TO haven_mail;

INSERT INTO haven.schema_migrations (version, name) VALUES (12, 'quota-defaults');

COMMIT;
