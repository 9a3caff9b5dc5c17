-- Haven's PostgreSQL store, schema version 19: the trigram index of a new
-- body's search text is built after its APPEND, not during it.
--
-- Every APPEND paid for the GIN index of haven.bodies.search_text inside
-- its transaction: extracting each trigram of the text and writing it to
-- the index's pending list (with its WAL) took 1.0-1.3 ms of the 2.5-3.1
-- ms of database CPU an APPEND of a real-sized message costs (bench/
-- RESULTS.md, 2026-12-07 "deferred trigram index"), while the client
-- waited for its OK. Bodies are now stored with text_indexed false, which
-- keeps them out of the (now partial) trigram index; haven.index_texts()
-- sets it in a later transaction of its own, which the user worker runs
-- when it has been idle for a moment (backends/pgsql: pg_tidy).
--
-- SEARCH stays exact meanwhile: the search text is stored with the body
-- at once, and a text key's candidates are the indexed bodies the trigram
-- index finds, the bodies not indexed yet (bodies_text_unindexed, a
-- partial index of the few that wait), each rechecked with LIKE, and the
-- bodies whose text was cut short (0008).
BEGIN;

ALTER TABLE haven.bodies ADD COLUMN text_indexed boolean NOT NULL DEFAULT true;

DROP INDEX haven.bodies_search;
CREATE INDEX bodies_search ON haven.bodies USING gin (search_text gin_trgm_ops)
	WHERE text_indexed;
CREATE INDEX bodies_text_unindexed ON haven.bodies (id) WHERE NOT text_indexed;

-- 0003's body_store, with new bodies left out of the trigram index.
CREATE OR REPLACE FUNCTION haven.body_store(p_body bigint, p_data bytea, p_sha256 bytea,
	p_size bigint, p_structure bytea, p_text text, p_complete boolean, p_body_start integer,
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
			       sent_day = p_sent_day, text_indexed = false
			 WHERE id = p_body AND sha256 IS NULL AND size = p_size RETURNING id INTO b;
			IF b IS NULL THEN
				RAISE EXCEPTION 'upload % is gone', p_body USING ERRCODE = 'HVNOX';
			END IF;
			RETURN b;
		END IF;
		INSERT INTO haven.bodies (sha256, size, structure, search_text, text_complete,
					  body_start, addr_start, sent_day, text_indexed)
		VALUES (p_sha256, p_size, p_structure, p_text, p_complete, p_body_start,
			p_addr_start, p_sent_day, false)
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

-- Put up to p_max bodies (all when NULL) that wait into the trigram
-- index, oldest first; returns how many. Bodies another transaction holds
-- (an APPEND taking one back, another worker's index_texts) are skipped,
-- so it never waits. Any user worker may run it for everyone's bodies:
-- the index is shared.
CREATE FUNCTION haven.index_texts(p_max integer DEFAULT NULL) RETURNS integer
LANGUAGE sql AS $$
	WITH picked AS (
		SELECT id FROM haven.bodies WHERE NOT text_indexed
		 ORDER BY id LIMIT p_max FOR UPDATE SKIP LOCKED),
	done AS (
		UPDATE haven.bodies b SET text_indexed = true FROM picked
		 WHERE b.id = picked.id RETURNING 1)
	SELECT count(*)::integer FROM done
$$;
REVOKE EXECUTE ON FUNCTION haven.index_texts(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION haven.index_texts(integer) TO haven_mail;

INSERT INTO haven.schema_migrations (version, name) VALUES (19, 'deferred-text-index');

COMMIT;
