-- Haven's PostgreSQL store, schema version 9: users' Sieve scripts (RFC
-- 5228), RFC 5804's model: named scripts per user, at most one active,
-- the one delivery runs.
--
-- The backend's functions (SECURITY INVOKER, role haven_mail) take the
-- user's id, as those of 0003 do, and raise SQLSTATEs of class HV:
--   HVNOX no such script, HVEXI a script of that name exists,
--   HVUSE the active script cannot be deleted, HVQUO too many scripts,
--   HVCAN a name that breaks the rules.
-- Provisioning (haven_provision, by login; haven-sql(7)):
--   haven.sieve_put(login, name, script, activate), haven.sieve_activate(login,
--   name), haven.sieve_delete(login, name), haven.sieve_scripts(login).
-- The vacation replies sent are in haven.sieve_replies (RFC 5230 4.2).
BEGIN;

CREATE TABLE haven.sieve_scripts (
	user_id bigint NOT NULL REFERENCES haven.users (id) ON DELETE CASCADE,
	name text NOT NULL,
	script text NOT NULL,
	active boolean NOT NULL DEFAULT false,
	updated timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, name)
);
-- At most one active script per user, whoever writes the rows.
CREATE UNIQUE INDEX sieve_scripts_one_active ON haven.sieve_scripts (user_id) WHERE active;

-- Vacation replies sent (RFC 5230 4.2): one row per sender and handle
-- (key: their hash, made by the backend) until it expires; a user's
-- expired rows go at that user's next claim.
CREATE TABLE haven.sieve_replies (
	user_id bigint NOT NULL REFERENCES haven.users (id) ON DELETE CASCADE,
	key text NOT NULL,
	expires timestamptz NOT NULL,
	PRIMARY KEY (user_id, key)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON haven.sieve_scripts, haven.sieve_replies TO haven_mail;

-- A script name: 1..128 bytes, no control characters, no '/' (the
-- backend checks the same before it calls; UTF-8 is the database's).
CREATE FUNCTION haven.sieve_name_check(p_name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	IF p_name IS NULL OR octet_length(p_name) NOT BETWEEN 1 AND 128
	   OR p_name ~ '[[:cntrl:]/]' THEN
		RAISE EXCEPTION 'invalid script name "%"', p_name USING ERRCODE = 'HVCAN';
	END IF;
END $$;

-- ---- the backend's operations (backends/pgsql/pg_sieve.c) -----------------

-- Create or replace; a new script beyond p_max_scripts is refused.
CREATE FUNCTION haven.sieve_script_put(p_user bigint, p_name text, p_script text,
				       p_max_scripts integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	PERFORM haven.sieve_name_check(p_name);
	-- one writer per user at a time, so the count below stays true
	PERFORM 1 FROM haven.users WHERE id = p_user FOR UPDATE;
	UPDATE haven.sieve_scripts SET script = p_script, updated = now()
	 WHERE user_id = p_user AND name = p_name;
	IF FOUND THEN
		RETURN;
	END IF;
	IF (SELECT count(*) FROM haven.sieve_scripts WHERE user_id = p_user) >= p_max_scripts THEN
		RAISE EXCEPTION 'Too many scripts (at most %)', p_max_scripts USING ERRCODE = 'HVQUO';
	END IF;
	INSERT INTO haven.sieve_scripts (user_id, name, script) VALUES (p_user, p_name, p_script);
END $$;

CREATE FUNCTION haven.sieve_script_delete(p_user bigint, p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	was_active boolean;
BEGIN
	PERFORM 1 FROM haven.users WHERE id = p_user FOR UPDATE;
	SELECT active INTO was_active FROM haven.sieve_scripts
	 WHERE user_id = p_user AND name = p_name;
	IF was_active IS NULL THEN
		RAISE EXCEPTION 'No such script' USING ERRCODE = 'HVNOX';
	END IF;
	IF was_active THEN
		RAISE EXCEPTION 'The active script cannot be deleted' USING ERRCODE = 'HVUSE';
	END IF;
	DELETE FROM haven.sieve_scripts WHERE user_id = p_user AND name = p_name;
END $$;

CREATE FUNCTION haven.sieve_script_rename(p_user bigint, p_old text, p_new text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	PERFORM haven.sieve_name_check(p_new);
	PERFORM 1 FROM haven.users WHERE id = p_user FOR UPDATE;
	IF NOT EXISTS (SELECT 1 FROM haven.sieve_scripts WHERE user_id = p_user AND name = p_old) THEN
		RAISE EXCEPTION 'No such script' USING ERRCODE = 'HVNOX';
	END IF;
	IF EXISTS (SELECT 1 FROM haven.sieve_scripts WHERE user_id = p_user AND name = p_new) THEN
		RAISE EXCEPTION 'A script of that name exists' USING ERRCODE = 'HVEXI';
	END IF;
	UPDATE haven.sieve_scripts SET name = p_new, updated = now()
	 WHERE user_id = p_user AND name = p_old;
END $$;

-- p_name NULL: none active.
CREATE FUNCTION haven.sieve_script_activate(p_user bigint, p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	PERFORM 1 FROM haven.users WHERE id = p_user FOR UPDATE;
	IF p_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM haven.sieve_scripts
					       WHERE user_id = p_user AND name = p_name) THEN
		RAISE EXCEPTION 'No such script' USING ERRCODE = 'HVNOX';
	END IF;
	UPDATE haven.sieve_scripts SET active = false
	 WHERE user_id = p_user AND active AND name IS DISTINCT FROM p_name;
	UPDATE haven.sieve_scripts SET active = true
	 WHERE user_id = p_user AND name = p_name AND NOT active;
END $$;

-- true when no reply under p_key is on record (now recorded for
-- p_seconds), false when one is.
CREATE FUNCTION haven.sieve_reply_claim(p_user bigint, p_key text, p_seconds bigint)
	RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	DELETE FROM haven.sieve_replies WHERE user_id = p_user AND expires <= now();
	INSERT INTO haven.sieve_replies (user_id, key, expires)
	     VALUES (p_user, p_key, now() + make_interval(secs => p_seconds))
	ON CONFLICT DO NOTHING;
	RETURN FOUND;
END $$;

-- ---- provisioning (haven_provision) ---------------------------------------

-- Store a script for a login (create or replace), and make it the active
-- one if activate. The script is stored as given: Haven compiles it when
-- it runs (a broken one is logged and the mail kept, never lost).
CREATE FUNCTION haven.sieve_put(login text, name text, script text, activate boolean)
	RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	usr bigint := haven.user_lock(login);
BEGIN
	PERFORM haven.sieve_name_check(name);
	IF script IS NULL THEN
		RAISE EXCEPTION 'script must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	INSERT INTO haven.sieve_scripts AS s (user_id, name, script)
	     VALUES (usr, sieve_put.name, sieve_put.script)
	ON CONFLICT ON CONSTRAINT sieve_scripts_pkey
	DO UPDATE SET script = EXCLUDED.script, updated = now();
	IF activate THEN
		PERFORM haven.sieve_script_activate(usr, name);
	END IF;
END $$;

-- name NULL: none active.
CREATE FUNCTION haven.sieve_activate(login text, name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	PERFORM haven.sieve_script_activate(haven.user_lock(login), name);
END $$;

-- Deleting the active script leaves none active (an administrator's
-- choice; ManageSieve clients must deactivate first).
CREATE FUNCTION haven.sieve_delete(login text, name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	usr bigint := haven.user_lock(login);
BEGIN
	DELETE FROM haven.sieve_scripts s WHERE s.user_id = usr AND s.name = sieve_delete.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no script "%" for %', name, login USING ERRCODE = 'no_data_found';
	END IF;
END $$;

CREATE FUNCTION haven.sieve_scripts(login text)
	RETURNS TABLE (name text, active boolean, bytes integer, updated timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	RETURN QUERY SELECT s.name, s.active, octet_length(s.script), s.updated
		       FROM haven.sieve_scripts s JOIN haven.users u ON u.id = s.user_id
		      WHERE lower(u.login) = lower(sieve_scripts.login)
		      ORDER BY s.name;
END $$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA haven FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	haven.sieve_name_check(text),
	haven.sieve_script_put(bigint, text, text, integer),
	haven.sieve_script_delete(bigint, text), haven.sieve_script_rename(bigint, text, text),
	haven.sieve_script_activate(bigint, text), haven.sieve_reply_claim(bigint, text, bigint)
	TO haven_mail;
GRANT EXECUTE ON FUNCTION
	haven.sieve_put(text, text, text, boolean), haven.sieve_activate(text, text),
	haven.sieve_delete(text, text), haven.sieve_scripts(text)
	TO haven_provision;

INSERT INTO haven.schema_migrations (version, name) VALUES (9, 'sieve');

COMMIT;
