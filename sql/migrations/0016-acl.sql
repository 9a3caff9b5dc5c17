-- Haven's PostgreSQL store, schema version 16: ACL (RFC 4314).
--
-- A mailbox's owner has every right, always, and is never a row here.
-- Other users get the rights of the row naming their login (lower-case)
-- joined with those of the row naming "anyone". Rights are the real
-- letters of RFC 4314 in the order "lrswipkxtea" (the backend maps the
-- virtual "c" to k x and "d" to t e before it calls). No negative rights.
-- A user reaches another's mailbox "Name" as 'Other Users/<login>/Name'.
--
-- Every function below takes the calling user's id and a mailbox name as
-- that user sees it, and checks that user's rights here, in SQL: a
-- worker never learns of a mailbox it may not see. They raise HVNOX (no
-- such mailbox, or no right on it at all: the two look alike), HVPRM (a
-- right is missing: [NOPERM]) and HVCAN (the owner's rights).
BEGIN;

CREATE TABLE haven.acl (
	mailbox_id bigint NOT NULL REFERENCES haven.mailboxes (id) ON DELETE CASCADE,
	-- a user's login in lower case, or 'anyone'
	identifier text NOT NULL CHECK (identifier <> '' AND identifier = lower(identifier)
					AND identifier !~ '^-' AND identifier !~ '[[:space:][:cntrl:]]'),
	rights text NOT NULL CHECK (rights ~ '^[lrswipkxtea]+$'),
	PRIMARY KEY (mailbox_id, identifier)
);
-- what a user was given, for the "Other Users" namespace
CREATE INDEX acl_identifier ON haven.acl (identifier);

GRANT SELECT, INSERT, UPDATE, DELETE ON haven.acl TO haven_mail;

-- A mailbox DELETE keeps as a \Noselect level shares nothing any more,
-- as it keeps no METADATA (0013): one trigger drops both now. A user
-- deleted or renamed takes their rows along, so that a new user of that
-- login inherits nothing.
DROP TRIGGER mailboxes_metadata_noselect ON haven.mailboxes;
DROP FUNCTION haven.metadata_noselect();
CREATE FUNCTION haven.mailbox_noselect() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	DELETE FROM haven.metadata WHERE mailbox_id = NEW.id;
	DELETE FROM haven.acl WHERE mailbox_id = NEW.id;
	RETURN NULL;
END $$;
CREATE TRIGGER mailboxes_noselect AFTER UPDATE OF noselect ON haven.mailboxes
	FOR EACH ROW WHEN (NEW.noselect AND NOT OLD.noselect)
	EXECUTE FUNCTION haven.mailbox_noselect();

CREATE FUNCTION haven.acl_user_gone() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	IF TG_OP = 'UPDATE' THEN
		UPDATE haven.acl SET identifier = lower(NEW.login) WHERE identifier = lower(OLD.login);
	ELSE
		DELETE FROM haven.acl WHERE identifier = lower(OLD.login);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER users_acl AFTER DELETE OR UPDATE OF login ON haven.users
	FOR EACH ROW EXECUTE FUNCTION haven.acl_user_gone();

-- The letters of p that are rights, once each, in the canonical order.
CREATE FUNCTION haven.acl_rights_norm(p text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, haven, pg_temp AS $$
	SELECT COALESCE(string_agg(c, '' ORDER BY n), '')
	  FROM unnest(string_to_array('lrswipkxtea', NULL)) WITH ORDINALITY AS t(c, n)
	 WHERE strpos(p, c) > 0
$$;

-- The mailbox p_user means by p_name, its owner, and p_user's rights on it.
CREATE FUNCTION haven.acl_resolve(p_user bigint, p_name text, OUT mailbox bigint,
				  OUT owner bigint, OUT rights text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	prefix constant text := 'Other Users/';
	rest text;
	who text;
	me text;
BEGIN
	IF NOT starts_with(p_name, prefix) THEN
		SELECT m.id, m.user_id, 'lrswipkxtea' INTO mailbox, owner, rights
		  FROM haven.mailboxes m WHERE m.user_id = p_user
		   AND m.name = (CASE WHEN upper(p_name) = 'INBOX' THEN 'INBOX' ELSE p_name END);
	ELSE
		rest := substr(p_name, length(prefix) + 1);
		who := split_part(rest, '/', 1);
		rest := substr(rest, length(who) + 2);
		SELECT m.id, m.user_id INTO mailbox, owner
		  FROM haven.mailboxes m JOIN haven.users u ON u.id = m.user_id
		 WHERE lower(u.login) = lower(who) AND NOT m.noselect
		   AND m.name = (CASE WHEN upper(rest) = 'INBOX' THEN 'INBOX' ELSE rest END);
		IF owner = p_user THEN
			mailbox := NULL;   -- one's own mailboxes have their own names
		END IF;
		SELECT lower(u.login) INTO me FROM haven.users u WHERE u.id = p_user;
		SELECT haven.acl_rights_norm(string_agg(a.rights, '')) INTO rights
		  FROM haven.acl a WHERE a.mailbox_id = mailbox AND a.identifier IN (me, 'anyone');
	END IF;
	IF mailbox IS NULL OR (owner <> p_user AND COALESCE(rights, '') = '') THEN
		RAISE EXCEPTION 'Mailbox does not exist' USING ERRCODE = 'HVNOX';
	END IF;
END $$;

-- The mailbox of p_name, when p_user has the right p_right on it.
CREATE FUNCTION haven.acl_need(p_user bigint, p_name text, p_right text,
			       OUT mailbox bigint, OUT owner bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	r text;
BEGIN
	SELECT x.mailbox, x.owner, x.rights INTO mailbox, owner, r
	  FROM haven.acl_resolve(p_user, p_name) x;
	IF strpos(r, p_right) = 0 THEN
		RAISE EXCEPTION 'You lack the "%" right on this mailbox', p_right
		USING ERRCODE = 'HVPRM';
	END IF;
END $$;

-- ---- the backend's operations (backends/pgsql/pg_acl.c) --------------------

CREATE FUNCTION haven.acl_myrights(p_user bigint, p_name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, haven, pg_temp AS $$
	SELECT rights FROM haven.acl_resolve(p_user, p_name)
$$;

-- GETACL: the owner first, with every right, then the rows by identifier.
CREATE FUNCTION haven.acl_list(p_user bigint, p_name text)
	RETURNS TABLE (identifier text, rights text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	x record;
BEGIN
	SELECT * INTO x FROM haven.acl_need(p_user, p_name, 'a');
	RETURN QUERY
		SELECT lower(u.login), 'lrswipkxtea'::text FROM haven.users u WHERE u.id = x.owner
		UNION ALL
		(SELECT a.identifier, a.rights FROM haven.acl a WHERE a.mailbox_id = x.mailbox
		  ORDER BY a.identifier COLLATE "C");
END $$;

-- The owner is never a row: their rights are all of them, always.
CREATE FUNCTION haven.acl_not_owner(p_owner bigint, p_ident text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM haven.users WHERE id = p_owner AND lower(login) = lower(p_ident)) THEN
		RAISE EXCEPTION 'The owner''s rights cannot be changed' USING ERRCODE = 'HVCAN';
	END IF;
END $$;

-- SETACL: p_mode 0 replaces the identifier's rights, 1 adds, 2 removes;
-- none left removes the row.
CREATE FUNCTION haven.acl_set(p_user bigint, p_name text, p_ident text, p_mode int,
			      p_rights text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	x record;
	id text := lower(p_ident);
	old text;
	new text;
BEGIN
	SELECT * INTO x FROM haven.acl_need(p_user, p_name, 'a');
	PERFORM haven.acl_not_owner(x.owner, id);
	SELECT a.rights INTO old FROM haven.acl a
	 WHERE a.mailbox_id = x.mailbox AND a.identifier = id FOR UPDATE;
	new := haven.acl_rights_norm(CASE p_mode WHEN 0 THEN p_rights
					 WHEN 1 THEN COALESCE(old, '') || p_rights
					 ELSE translate(COALESCE(old, ''), p_rights, '') END);
	IF new = '' THEN
		DELETE FROM haven.acl WHERE mailbox_id = x.mailbox AND identifier = id;
	ELSE
		-- a row made meanwhile by another "+" keeps its rights too
		INSERT INTO haven.acl AS a (mailbox_id, identifier, rights) VALUES (x.mailbox, id, new)
		ON CONFLICT (mailbox_id, identifier) DO UPDATE
		SET rights = CASE WHEN p_mode = 1 THEN haven.acl_rights_norm(a.rights || EXCLUDED.rights)
				  ELSE EXCLUDED.rights END;
	END IF;
END $$;

CREATE FUNCTION haven.acl_delete(p_user bigint, p_name text, p_ident text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	x record;
BEGIN
	SELECT * INTO x FROM haven.acl_need(p_user, p_name, 'a');
	PERFORM haven.acl_not_owner(x.owner, p_ident);
	DELETE FROM haven.acl WHERE mailbox_id = x.mailbox AND identifier = lower(p_ident);
END $$;

-- PostgreSQL lets PUBLIC execute what is made; only the workers may.
DO $$
DECLARE
	f text;
BEGIN
	FOREACH f IN ARRAY ARRAY['mailbox_noselect()', 'acl_user_gone()', 'acl_rights_norm(text)',
				 'acl_resolve(bigint, text)', 'acl_need(bigint, text, text)',
				 'acl_myrights(bigint, text)', 'acl_list(bigint, text)',
				 'acl_not_owner(bigint, text)',
				 'acl_set(bigint, text, text, int, text)',
				 'acl_delete(bigint, text, text)'] LOOP
		EXECUTE format('REVOKE EXECUTE ON FUNCTION haven.%s FROM PUBLIC', f);
		EXECUTE format('GRANT EXECUTE ON FUNCTION haven.%s TO haven_mail', f);
	END LOOP;
END $$;

INSERT INTO haven.schema_migrations (version, name) VALUES (16, 'acl');

COMMIT;
