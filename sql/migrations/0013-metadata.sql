-- Haven's PostgreSQL store, schema version 13: METADATA (RFC 5464), the
-- entries of a user's server (mailbox_id NULL) and of their mailboxes.
-- A mailbox's entries go with its row (ON DELETE CASCADE) and when DELETE
-- keeps it as a \Noselect level (the trigger below); a RENAME keeps the
-- row, so they follow it; a user's go with the user. /shared entries of a
-- user's own mailboxes are rows like the /private ones, under their own
-- names (one user per account, no ACL: nobody else reads them).
--
-- The backend's functions (role haven_mail) take the user's id, as those
-- of 0003 do, and raise HVNOX (no such mailbox), HVLIM (too many
-- entries: [METADATA TOOMANY]) and HVQUO (over the user's total size).
BEGIN;

CREATE TABLE haven.metadata (
	user_id bigint NOT NULL REFERENCES haven.users (id) ON DELETE CASCADE,
	mailbox_id bigint REFERENCES haven.mailboxes (id) ON DELETE CASCADE,
	-- lower-case, printable ASCII, below /private or /shared (the
	-- backend checks all of RFC 5464 3.2 before it calls)
	entry text NOT NULL CHECK (entry ~ '^/(private|shared)/[ -~]+$' AND entry !~ '[A-Z*%]'
				   AND entry !~ '//' AND entry !~ '/$'),
	value bytea NOT NULL
);
CREATE UNIQUE INDEX metadata_key ON haven.metadata (user_id, (COALESCE(mailbox_id, 0)), entry);
-- the cascades from haven.mailboxes find a mailbox's rows by it
CREATE INDEX metadata_mailbox ON haven.metadata (mailbox_id) WHERE mailbox_id IS NOT NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON haven.metadata TO haven_mail;

-- DELETE of a mailbox with children keeps its row as a \Noselect level:
-- its entries go all the same (RFC 5464 4.1).
CREATE FUNCTION haven.metadata_noselect() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
BEGIN
	DELETE FROM haven.metadata WHERE mailbox_id = NEW.id;
	RETURN NULL;
END $$;
CREATE TRIGGER mailboxes_metadata_noselect AFTER UPDATE OF noselect ON haven.mailboxes
	FOR EACH ROW WHEN (NEW.noselect AND NOT OLD.noselect)
	EXECUTE FUNCTION haven.metadata_noselect();

-- ---- the backend's operations (backends/pgsql/pg_metadata.c) ---------------

-- The id of the user's mailbox p_mailbox ('' the server: NULL).
CREATE FUNCTION haven.metadata_mailbox(p_user bigint, p_mailbox text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	mb bigint;
BEGIN
	IF p_mailbox = '' THEN
		RETURN NULL;
	END IF;
	SELECT id INTO mb FROM haven.mailboxes
	 WHERE user_id = p_user
	   AND name = (CASE WHEN upper(p_mailbox) = 'INBOX' THEN 'INBOX' ELSE p_mailbox END);
	IF mb IS NULL THEN
		RAISE EXCEPTION 'Mailbox does not exist' USING ERRCODE = 'HVNOX';
	END IF;
	RETURN mb;
END $$;

-- Entries of p_mailbox that are p_prefix or below it ('': all), by name.
CREATE FUNCTION haven.metadata_list(p_user bigint, p_mailbox text, p_prefix text)
	RETURNS TABLE (entry text, value bytea)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	mb bigint := haven.metadata_mailbox(p_user, p_mailbox);
BEGIN
	RETURN QUERY SELECT m.entry, m.value FROM haven.metadata m
		      WHERE m.user_id = p_user AND COALESCE(m.mailbox_id, 0) = COALESCE(mb, 0)
			AND (p_prefix = '' OR m.entry = p_prefix
			     OR starts_with(m.entry, p_prefix || '/'))
		      ORDER BY m.entry COLLATE "C";
END $$;

-- One SETMETADATA, all or nothing: entry i gets the p_lens[i] bytes of
-- p_values that follow those of the entries before it, or goes when
-- p_lens[i] < 0 (NIL). The limits hold for what the user keeps after;
-- only growth is refused, so a user over limits lowered since can
-- still remove and shrink.
CREATE FUNCTION haven.metadata_set(p_user bigint, p_mailbox text, p_entries text[],
				   p_values bytea, p_lens bigint[], p_max_entries bigint,
				   p_max_total bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	mb bigint;
	off bigint := 1;
	n0 bigint;
	t0 bigint;
	n1 bigint;
	t1 bigint;
BEGIN
	-- one writer per user at a time, so the sums below stay true
	PERFORM 1 FROM haven.users WHERE id = p_user FOR UPDATE;
	mb := haven.metadata_mailbox(p_user, p_mailbox);
	SELECT count(*), COALESCE(sum(octet_length(entry) + octet_length(value)), 0)
	  INTO n0, t0 FROM haven.metadata WHERE user_id = p_user;
	FOR i IN 1 .. COALESCE(array_length(p_entries, 1), 0) LOOP
		IF p_lens[i] < 0 THEN
			DELETE FROM haven.metadata WHERE user_id = p_user
			   AND COALESCE(mailbox_id, 0) = COALESCE(mb, 0) AND entry = p_entries[i];
			CONTINUE;
		END IF;
		INSERT INTO haven.metadata (user_id, mailbox_id, entry, value)
		     VALUES (p_user, mb, p_entries[i], substring(p_values FROM off::int FOR p_lens[i]::int))
		ON CONFLICT (user_id, (COALESCE(mailbox_id, 0)), entry)
		DO UPDATE SET value = EXCLUDED.value;
		off := off + p_lens[i];
	END LOOP;
	SELECT count(*), COALESCE(sum(octet_length(entry) + octet_length(value)), 0)
	  INTO n1, t1 FROM haven.metadata WHERE user_id = p_user;
	IF n1 > p_max_entries AND n1 > n0 THEN
		RAISE EXCEPTION 'Too many metadata entries (at most %)', p_max_entries
		USING ERRCODE = 'HVLIM';
	END IF;
	IF t1 > p_max_total AND t1 > t0 THEN
		RAISE EXCEPTION 'Metadata over % bytes in all', p_max_total USING ERRCODE = 'HVQUO';
	END IF;
END $$;

-- RENAME INBOX makes a new mailbox of INBOX's messages: it gets a copy of
-- INBOX's entries, and INBOX keeps its own (RFC 5464 4.1).
CREATE FUNCTION haven.metadata_copy(p_user bigint, p_from text, p_to text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, haven, pg_temp AS $$
DECLARE
	src bigint := haven.metadata_mailbox(p_user, p_from);
	dst bigint := haven.metadata_mailbox(p_user, p_to);
BEGIN
	INSERT INTO haven.metadata (user_id, mailbox_id, entry, value)
	SELECT p_user, dst, entry, value FROM haven.metadata
	 WHERE user_id = p_user AND mailbox_id = src
	ON CONFLICT (user_id, (COALESCE(mailbox_id, 0)), entry)
	DO UPDATE SET value = EXCLUDED.value;
END $$;

REVOKE EXECUTE ON FUNCTION
	haven.metadata_noselect(), haven.metadata_mailbox(bigint, text),
	haven.metadata_list(bigint, text, text),
	haven.metadata_set(bigint, text, text[], bytea, bigint[], bigint, bigint),
	haven.metadata_copy(bigint, text, text)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	haven.metadata_noselect(), haven.metadata_mailbox(bigint, text),
	haven.metadata_list(bigint, text, text),
	haven.metadata_set(bigint, text, text[], bytea, bigint[], bigint, bigint),
	haven.metadata_copy(bigint, text, text)
	TO haven_mail;

INSERT INTO haven.schema_migrations (version, name) VALUES (13, 'metadata');

COMMIT;
