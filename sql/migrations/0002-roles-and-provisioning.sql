-- Haven's PostgreSQL store, schema version 2: the group roles Haven's
-- processes and an ISP's provisioning tool connect through, and the
-- provisioning API (sql/README.md, haven-sql(7)).
--
-- Roles are cluster-wide: they are created only when missing, so several
-- Haven databases in one cluster share them (each database grants its own
-- objects). Creating them needs CREATEROLE; a migrating role without it
-- works when a superuser created the three roles beforehand.
--
--  haven_mail       what user workers need (backends/pgsql/): the mail
--                   tables, the user's row without its password
--  haven_auth       what the SQL passdb needs (auth/): read users,
--                   aliases and domains, write nothing
--  haven_provision  the provisioning functions below and nothing else
--
-- Administrators create LOGIN roles and grant one of these to each, e.g.
--   CREATE ROLE haven_worker LOGIN IN ROLE haven_mail;
BEGIN;

DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['haven_mail', 'haven_auth', 'haven_provision'] LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			BEGIN
				EXECUTE format('CREATE ROLE %I NOLOGIN', r);
			EXCEPTION WHEN duplicate_object OR unique_violation THEN
				NULL;  -- created meanwhile by a migration of another database
			END;
		ELSIF (SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			RAISE WARNING 'role % can log in: Haven''s group roles are meant to be NOLOGIN', r;
		END IF;
	END LOOP;
END $$;

-- ---- privileges ------------------------------------------------------------

REVOKE ALL ON SCHEMA haven FROM PUBLIC;
GRANT USAGE ON SCHEMA haven TO haven_mail, haven_auth, haven_provision;

GRANT SELECT, INSERT, UPDATE, DELETE
	ON haven.mailboxes, haven.subscriptions, haven.bodies, haven.body_chunks,
	   haven.messages, haven.expunged
	TO haven_mail;
GRANT SELECT (id, login, enabled, quota_bytes, quota_messages, used_bytes, used_messages,
	      uid, gid, home)
	ON haven.users TO haven_mail;
-- The counter triggers of 0001 run as the role whose statement fires them.
GRANT UPDATE (used_bytes, used_messages) ON haven.users TO haven_mail;
-- mailboxes.uidvalidity's default (identity columns need no grant).
GRANT USAGE ON SEQUENCE haven.uidvalidity_seq TO haven_mail;
-- The backend and `haven-admin db status` with havend's DSN read the version.
GRANT SELECT ON haven.schema_migrations TO haven_mail;

GRANT SELECT (id, login, password, enabled, uid, gid, home, quota_bytes, quota_messages)
	ON haven.users TO haven_auth;
GRANT SELECT ON haven.aliases, haven.domains TO haven_auth;

-- ---- helpers (not callable by the roles above) ---------------------------

-- Every function that adds, renames or removes a login, an alias or a
-- domain takes this lock first, so that "is this name free?" and the write
-- that follows are one step, and a domain pruned with its last user is
-- never the one a concurrent create_user is attaching to.
CREATE FUNCTION haven.names_lock() RETURNS void
LANGUAGE sql SET search_path = pg_catalog, haven, pg_temp
AS $$ SELECT pg_catalog.pg_advisory_xact_lock(7523094288207667809) $$;

-- A login or alias the auth helper can look up (auth/password.c
-- passdb_user_name_valid: 1..255 bytes, no control characters, blanks,
-- ':', '/' or '\', not "." or ".."), with at most one '@' and, if so,
-- something on both sides of it.
CREATE FUNCTION haven.name_check(name text, what text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF octet_length(name) NOT BETWEEN 1 AND 255 THEN
		RAISE EXCEPTION 'bad %: "%" must be 1 to 255 bytes long', what, name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF name ~ '[[:cntrl:][:space:]:/\\]' OR name IN ('.', '..') THEN
		RAISE EXCEPTION 'bad %: "%" holds a control character, a blank, '':'', ''/'' or ''\''', what, name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF name ~ '@' AND name !~ '^[^@]+@[^@]+$' THEN
		RAISE EXCEPTION 'bad %: "%" must be local@domain with one ''@''', what, name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END $$;

-- Logins and aliases share one case-insensitive namespace: a name that is
-- both would make a login ambiguous. keep: the user being renamed, whose
-- own login does not count.
CREATE FUNCTION haven.name_free(name text, what text, keep bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	owner text;
BEGIN
	IF EXISTS (SELECT FROM haven.users u
		    WHERE lower(u.login) = lower(name) AND u.id IS DISTINCT FROM keep) THEN
		RAISE EXCEPTION '% "%" is taken: a user has that login', what, name
			USING ERRCODE = 'unique_violation';
	END IF;
	SELECT u.login INTO owner FROM haven.aliases a JOIN haven.users u ON u.id = a.user_id
	 WHERE a.alias = lower(name);
	IF FOUND THEN
		RAISE EXCEPTION '% "%" is taken: it is an alias of "%"', what, name, owner
			USING ERRCODE = 'unique_violation';
	END IF;
END $$;

-- The user's id, its row locked (users come first in the lock order).
CREATE FUNCTION haven.user_lock(login text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	usr bigint;
BEGIN
	IF login IS NULL THEN
		RAISE EXCEPTION 'login must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT u.id INTO usr FROM haven.users u WHERE lower(u.login) = lower(user_lock.login) FOR UPDATE;
	IF usr IS NULL THEN
		RAISE EXCEPTION 'unknown login "%"', login USING ERRCODE = 'no_data_found';
	END IF;
	RETURN usr;
END $$;

-- What users.password holds for a password given to the API: NULL stays
-- NULL (no password login); '{CRYPT}<crypt(3) hash>' is stored as the hash;
-- anything else is a clear-text password, hashed here with bcrypt, which
-- the auth helper's crypt(3) (libxcrypt) verifies. bcrypt reads only 72
-- bytes: a longer password is refused rather than cut silently.
CREATE FUNCTION haven.password_hash(password text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	nsp text;
	hash text;
BEGIN
	IF password IS NULL THEN
		RETURN NULL;
	END IF;
	IF password LIKE '{CRYPT}%' THEN
		hash := substr(password, 8);
		IF hash !~ '^(\$[0-9a-z]+\$[./0-9A-Za-z$=,+-]+|[./0-9A-Za-z]{13})$' THEN
			RAISE EXCEPTION '{CRYPT} must be followed by a crypt(3) hash such as $y$..., $6$... or $2b$...'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		RETURN hash;
	END IF;
	IF password ~ '^\{[A-Za-z0-9._-]+\}' THEN
		RAISE EXCEPTION 'unsupported password scheme %', substring(password FROM '^\{[A-Za-z0-9._-]+\}')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Give the password in clear text or a crypt(3) hash as {CRYPT}$...';
	END IF;
	IF password = '' THEN
		RAISE EXCEPTION 'empty password' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'NULL means: no password login';
	END IF;
	IF octet_length(password) > 72 THEN
		RAISE EXCEPTION 'password longer than 72 bytes (bcrypt would ignore the rest)'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Hash it outside (mkpasswd -m yescrypt) and give {CRYPT}$y$...';
	END IF;
	-- pgcrypto lives in whichever schema 0001 created it in (public
	-- usually), which this function's search_path leaves out on purpose.
	SELECT e.extnamespace::regnamespace::text INTO nsp
	  FROM pg_catalog.pg_extension e WHERE e.extname = 'pgcrypto';
	IF nsp IS NULL THEN
		RAISE EXCEPTION 'the pgcrypto extension is missing' USING ERRCODE = 'undefined_function',
			HINT = 'CREATE EXTENSION pgcrypto (Debian: postgresql-contrib)';
	END IF;
	EXECUTE format('SELECT %s.crypt($1, %s.gen_salt(''bf'', 10))', nsp, nsp) INTO hash USING password;
	RETURN hash;
END $$;

-- The domain a login belongs to (the part after '@'), created with its
-- first user; NULL for a login without '@'.
CREATE FUNCTION haven.domain_attach(login text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	dname text := lower(substring(login FROM '@([^@]+)$'));
	dom bigint;
BEGIN
	IF dname IS NULL THEN
		RETURN NULL;
	END IF;
	INSERT INTO haven.domains (name) VALUES (dname) ON CONFLICT (name) DO NOTHING;
	SELECT d.id INTO dom FROM haven.domains d WHERE d.name = dname;
	RETURN dom;
END $$;

-- A domain goes with its last user.
CREATE FUNCTION haven.domain_prune(domain bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, haven, pg_temp AS $$
	DELETE FROM haven.domains d
	 WHERE d.id = domain_prune.domain
	   AND NOT EXISTS (SELECT FROM haven.users u WHERE u.domain_id = d.id)
$$;

-- quota_* hold NULL for "no limit"; 0 given to the API means the same.
-- what: 'byte' (quota_bytes) or 'message' (quota_messages).
CREATE FUNCTION haven.quota_set(login text, what text, n bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	usr bigint;
BEGIN
	IF n < 0 THEN
		RAISE EXCEPTION '% quota % is negative', what, n USING ERRCODE = 'invalid_parameter_value',
			HINT = 'NULL or 0: no limit';
	END IF;
	usr := haven.user_lock(login);
	IF what = 'byte' THEN
		UPDATE haven.users u SET quota_bytes = nullif(n, 0) WHERE u.id = usr;
	ELSE
		UPDATE haven.users u SET quota_messages = nullif(n, 0) WHERE u.id = usr;
	END IF;
END $$;

-- ---- the provisioning API ------------------------------------------------
--
-- Parameter names are part of the API (callers may use named notation);
-- where one is also a column name it is written function.parameter.

CREATE FUNCTION haven.create_user(login text, password text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	hash text;
	usr bigint;
BEGIN
	PERFORM haven.name_check(login, 'login');
	hash := haven.password_hash(password);  -- slow on purpose: before the lock
	PERFORM haven.names_lock();
	PERFORM haven.name_free(login, 'login', NULL);
	INSERT INTO haven.users AS u (login, password, domain_id)
	     VALUES (create_user.login, hash, haven.domain_attach(create_user.login))
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

CREATE FUNCTION haven.set_password(login text, password text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	hash text := haven.password_hash(password);
	usr bigint := haven.user_lock(login);
BEGIN
	UPDATE haven.users u SET password = hash WHERE u.id = usr;
END $$;

CREATE FUNCTION haven.enabled_set(login text, enabled boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	usr bigint := haven.user_lock(login);
BEGIN
	UPDATE haven.users u SET enabled = enabled_set.enabled WHERE u.id = usr;
END $$;

CREATE FUNCTION haven.disable_user(login text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp
AS $$ SELECT haven.enabled_set(disable_user.login, false) $$;

CREATE FUNCTION haven.enable_user(login text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp
AS $$ SELECT haven.enabled_set(enable_user.login, true) $$;

-- The user and everything that was theirs. Locks in the order of 0001
-- (user, mailboxes by id, messages); the messages go in one statement, so
-- the counter trigger runs once and drops every body no longer referenced
-- (its chunks cascade); the user's row takes its mailboxes, expunge log,
-- subscriptions and aliases with it.
CREATE FUNCTION haven.delete_user(login text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	usr bigint;
	dom bigint;
BEGIN
	PERFORM haven.names_lock();
	usr := haven.user_lock(login);
	PERFORM FROM haven.mailboxes b WHERE b.user_id = usr ORDER BY b.id FOR UPDATE;
	DELETE FROM haven.messages m USING haven.mailboxes b
	 WHERE b.user_id = usr AND m.mailbox_id = b.id;
	DELETE FROM haven.users u WHERE u.id = usr RETURNING u.domain_id INTO dom;
	PERFORM haven.domain_prune(dom);
END $$;

CREATE FUNCTION haven.rename_user(old text, new text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	usr bigint;
	dom bigint;
BEGIN
	PERFORM haven.name_check(rename_user.new, 'new login');
	PERFORM haven.names_lock();
	usr := haven.user_lock(rename_user.old);
	PERFORM haven.name_free(rename_user.new, 'new login', usr);
	SELECT u.domain_id INTO dom FROM haven.users u WHERE u.id = usr;
	UPDATE haven.users u SET login = rename_user.new,
	       domain_id = haven.domain_attach(rename_user.new)
	 WHERE u.id = usr;
	PERFORM haven.domain_prune(dom);
END $$;

CREATE FUNCTION haven.set_quota(login text, bytes bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp
AS $$ SELECT haven.quota_set(set_quota.login, 'byte', set_quota.bytes) $$;

CREATE FUNCTION haven.set_message_quota(login text, messages bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp
AS $$ SELECT haven.quota_set(set_message_quota.login, 'message', set_message_quota.messages) $$;

-- Another name the user logs in with; stored lower-case (aliases are
-- matched case-insensitively, like logins).
CREATE FUNCTION haven.add_alias(alias text, login text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	usr bigint;
BEGIN
	PERFORM haven.name_check(add_alias.alias, 'alias');
	PERFORM haven.names_lock();
	usr := haven.user_lock(add_alias.login);
	PERFORM haven.name_free(add_alias.alias, 'alias', NULL);
	INSERT INTO haven.aliases (alias, user_id) VALUES (lower(add_alias.alias), usr);
END $$;

CREATE FUNCTION haven.remove_alias(alias text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	IF remove_alias.alias IS NULL THEN
		RAISE EXCEPTION 'alias must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM haven.names_lock();
	DELETE FROM haven.aliases a WHERE a.alias = lower(remove_alias.alias);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown alias "%"', remove_alias.alias USING ERRCODE = 'no_data_found';
	END IF;
END $$;

-- What a provisioning tool may read back (haven_provision has no table
-- access): everything about a user but the password hash.
CREATE TYPE haven.user_summary AS (
	id bigint,
	login text,
	enabled boolean,
	quota_bytes bigint,
	quota_messages bigint,
	used_bytes bigint,
	used_messages bigint,
	aliases text[],
	created_at timestamptz
);

CREATE FUNCTION haven.user_info(login text) RETURNS haven.user_summary
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	r haven.user_summary;
BEGIN
	SELECT u.id, u.login, u.enabled, u.quota_bytes, u.quota_messages, u.used_bytes,
	       u.used_messages,
	       ARRAY(SELECT a.alias FROM haven.aliases a WHERE a.user_id = u.id ORDER BY a.alias),
	       u.created_at
	  INTO r
	  FROM haven.users u WHERE lower(u.login) = lower(user_info.login);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown login "%"', user_info.login USING ERRCODE = 'no_data_found';
	END IF;
	RETURN r;
END $$;

-- Functions are executable by PUBLIC unless revoked: only the roles named
-- here may call any of Haven's.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA haven FROM PUBLIC;
GRANT EXECUTE ON FUNCTION haven.sweep(interval) TO haven_mail;
GRANT EXECUTE ON FUNCTION
	haven.create_user(text, text), haven.set_password(text, text),
	haven.disable_user(text), haven.enable_user(text), haven.delete_user(text),
	haven.rename_user(text, text), haven.set_quota(text, bigint),
	haven.set_message_quota(text, bigint), haven.add_alias(text, text),
	haven.remove_alias(text), haven.user_info(text)
	TO haven_provision;

INSERT INTO haven.schema_migrations (version, name) VALUES (2, 'roles-and-provisioning');

COMMIT;
