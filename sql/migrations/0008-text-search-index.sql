-- Haven's PostgreSQL store, schema version 8: SEARCH by text finds its
-- candidates through the trigram index, and search texts are compressed
-- with lz4.
--
-- A text key's "certainly not" condition (backends/pgsql/pg_search.c) is
-- "text_complete AND search_text NOT LIKE '%needle%'", so the rows a
-- search keeps are "NOT text_complete OR search_text LIKE '%needle%'".
-- The trigram index answers only the second half; with nothing to answer
-- the first, PostgreSQL could not combine the two in a bitmap and read
-- every row of haven.bodies instead (every user's, with a LIKE on each
-- text): SEARCH BODY of a rare word in a mailbox of 100,000 messages took
-- 160-600 ms where the index finds the 20 candidates in 5 ms. This partial
-- index holds only the bodies whose text was cut short (messages larger
-- than the backend's search text limit: few, and none in most databases),
-- so the planner can OR the two index scans.
--
-- Search texts longer than about 2 kB are compressed when stored, and
-- every LIKE a search rechecks reads one whole. lz4 decompresses them in
-- about two thirds of the time pglz takes (texts of 22 kB: a LIKE over
-- 5,000 of them 290-395 ms with pglz, 195-200 ms with lz4) and compresses
-- at APPEND much faster, for about a third more space. It applies to texts
-- stored from now on; a PostgreSQL built without lz4 keeps pglz.
BEGIN;

CREATE INDEX bodies_text_incomplete ON haven.bodies (id) WHERE NOT text_complete;

DO $$
BEGIN
	ALTER TABLE haven.bodies ALTER COLUMN search_text SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
	RAISE NOTICE 'PostgreSQL was built without lz4: search texts stay compressed with pglz';
END $$;

INSERT INTO haven.schema_migrations (version, name) VALUES (8, 'text-search-index');

COMMIT;
