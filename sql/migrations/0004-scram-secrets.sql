-- Haven's PostgreSQL store, schema version 4: SCRAM-SHA-256 secrets beside
-- the password hash, so that users of the SQL passdb (auth/passdb_sql.c)
-- can log in with SCRAM-SHA-256 (RFC 7677), which needs what a crypt(3)
-- hash cannot give. create_user and set_password compute it from a
-- clear-text password; a password given as {CRYPT}... leaves it NULL
-- (that user logs in with PLAIN/LOGIN only).
--
-- The secret uses the layout of Dovecot's {SCRAM-SHA-256} scheme:
--   ITERATIONS,SALT,STOREDKEY,SERVERKEY   (salt and keys base64)
-- Only the auth helper's role (haven_auth) may read it.
BEGIN;

ALTER TABLE haven.users ADD COLUMN scram_sha256 text
	CHECK (scram_sha256 ~ '^[0-9]{4,7},[A-Za-z0-9+/]+=*,[A-Za-z0-9+/]{43}=,[A-Za-z0-9+/]{43}=$');
GRANT SELECT (scram_sha256) ON haven.users TO haven_auth;

-- A new secret for password (RFC 5802 section 3): SaltedPassword by
-- PBKDF2-HMAC-SHA256 (RFC 8018, one 32-byte block, 4096 iterations as one
-- recursive query), then StoredKey and ServerKey. pgcrypto's functions come
-- from whichever schema pgcrypto is in now, found at each call as 0002's
-- password_hash does (and with the same error when it is gone).
CREATE FUNCTION haven.scram_secret(password text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	nsp text;
	secret text;
BEGIN
	SELECT e.extnamespace::regnamespace::text INTO nsp
	  FROM pg_catalog.pg_extension e WHERE e.extname = 'pgcrypto';
	IF nsp IS NULL THEN
		RAISE EXCEPTION 'the pgcrypto extension is missing' USING ERRCODE = 'undefined_function',
			HINT = 'CREATE EXTENSION pgcrypto (Debian: postgresql-contrib)';
	END IF;
	EXECUTE format($q$
	WITH RECURSIVE
	k AS (SELECT convert_to($1, 'UTF8') AS pw, %1$s.gen_random_bytes(16) AS salt),
	it AS (SELECT 1 AS i, %1$s.hmac(k.salt || '\x00000001'::bytea, k.pw, 'sha256') AS u FROM k
	       UNION ALL
	       SELECT it.i + 1, %1$s.hmac(it.u, k.pw, 'sha256') FROM it, k WHERE it.i < 4096),
	x AS (SELECT bit_xor(('x' || encode(substr(u, 1, 8), 'hex'))::bit(64)::bigint) AS a1,
		     bit_xor(('x' || encode(substr(u, 9, 8), 'hex'))::bit(64)::bigint) AS a2,
		     bit_xor(('x' || encode(substr(u, 17, 8), 'hex'))::bit(64)::bigint) AS a3,
		     bit_xor(('x' || encode(substr(u, 25, 8), 'hex'))::bit(64)::bigint) AS a4 FROM it),
	salted AS (SELECT int8send(a1) || int8send(a2) || int8send(a3) || int8send(a4) AS sp FROM x),
	keys AS (SELECT %1$s.hmac('Client Key'::bytea, sp, 'sha256') AS ck,
			%1$s.hmac('Server Key'::bytea, sp, 'sha256') AS sk FROM salted)
	SELECT '4096,' || encode(k.salt, 'base64') || ','
	       || encode(%1$s.digest(keys.ck, 'sha256'), 'base64') || ',' || encode(keys.sk, 'base64')
	  FROM k, keys
	$q$, nsp) INTO secret USING password;
	RETURN secret;
END $$;

-- The SCRAM secret for a password given to the API: NULL for NULL (no
-- password login) and for a {CRYPT} hash (no clear text to make it from).
CREATE FUNCTION haven.scram_of(password text) RETURNS text
LANGUAGE sql VOLATILE SET search_path = pg_catalog, haven, pg_temp AS $$
	SELECT CASE WHEN password IS NULL OR password LIKE '{CRYPT}%' THEN NULL
		    ELSE haven.scram_secret(password) END
$$;

-- create_user and set_password as in 0002, now also storing the SCRAM
-- secret, in the same statement as the hash.
CREATE OR REPLACE FUNCTION haven.create_user(login text, password text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	hash text;
	scram text;
	usr bigint;
BEGIN
	PERFORM haven.name_check(login, 'login');
	hash := haven.password_hash(password);  -- slow on purpose: before the lock
	scram := haven.scram_of(password);
	PERFORM haven.names_lock();
	PERFORM haven.name_free(login, 'login', NULL);
	INSERT INTO haven.users AS u (login, password, scram_sha256, domain_id)
	     VALUES (create_user.login, hash, scram,
		     haven.domain_attach(create_user.login))
	  RETURNING u.id INTO usr;
	INSERT INTO haven.mailboxes (user_id, name, special_use)
	     SELECT usr, m.name, m.special_use
	       FROM (VALUES (1, 'INBOX', ARRAY[]::text[]),
			    (2, 'Drafts', ARRAY[E'\\Drafts']),
			    (3, 'Sent', ARRAY[E'\\Sent']),
			    (4, 'Trash', ARRAY[E'\\Trash']),
			    (5, 'Junk', ARRAY[E'\\Junk']),
			    (6, 'Archive', ARRAY[E'\\Archive'])) AS m(n, name, special_use)
	      ORDER BY m.n;
	INSERT INTO haven.subscriptions (user_id, name)
	     SELECT usr, b.name FROM haven.mailboxes b WHERE b.user_id = usr;
	RETURN usr;
END $$;

CREATE OR REPLACE FUNCTION haven.set_password(login text, password text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	hash text := haven.password_hash(password);
	scram text := haven.scram_of(password);
	usr bigint := haven.user_lock(login);
BEGIN
	UPDATE haven.users u SET password = hash, scram_sha256 = scram WHERE u.id = usr;
END $$;

REVOKE EXECUTE ON FUNCTION haven.scram_secret(text), haven.scram_of(text) FROM PUBLIC;

INSERT INTO haven.schema_migrations (version, name) VALUES (4, 'scram-secrets');

COMMIT;
