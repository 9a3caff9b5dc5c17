-- Haven's PostgreSQL store, schema version 19: the trigram index of a new
-- body's search text is built after its APPEND, not during it.
--
-- Every APPEND paid for the GIN index of haven.bodies.search_text inside
-- its transaction: extracting each trigram of the text and writing it to
-- the index's pending list (with its WAL) took about 1 ms of the 3.1 ms
-- of database CPU an APPEND of a real-sized message costs (bench/
-- RESULTS.md, "The PostgreSQL store's trigram index built after the
-- APPEND"), while the client waited for its OK. Bodies are now made with text_indexed false, which
-- keeps them out of the (now partial) trigram index; haven.index_texts()
-- sets it in a later transaction of its own, which the user worker runs
-- when it has been idle for a moment (backends/pgsql/pg_append.c: pg_tidy).
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

-- Bodies indexed so far stay so; from now on a body is made waiting
-- (haven.body_store's INSERT, and an upload's first chunk, whose row
-- becomes the body) and enters the index when index_texts takes it.
ALTER TABLE haven.bodies ALTER COLUMN text_indexed SET DEFAULT false;

-- Put up to p_max bodies (all when NULL) that wait into the trigram
-- index, oldest first; returns how many. An upload still arriving (no
-- sha256 yet) waits until its APPEND has stored it. Bodies another
-- transaction holds (an APPEND taking one back, another worker's
-- index_texts) are skipped, so it never waits. Any user worker may run it
-- for everyone's bodies: the index is shared.
CREATE FUNCTION haven.index_texts(p_max integer DEFAULT NULL) RETURNS integer
LANGUAGE sql AS $$
	WITH picked AS (
		SELECT id FROM haven.bodies WHERE NOT text_indexed AND sha256 IS NOT NULL
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
