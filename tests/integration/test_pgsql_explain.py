"""Every statement the PostgreSQL backend prepares (the table in
backends/pgsql/pg_conn.c, read from the source), run against a mailbox of
100,000 messages beside other users' mail, with the plans of everything it
executes (the functions' inner statements and the triggers' included,
through auto_explain) inspected: no sequential scan of a per-message table
(messages, bodies, body_chunks, expunged, append_log) may appear. Sequential
scans are disabled for the run, so one that still appears has no index to
replace it: the statement has no index behind it.

The same for the SEARCH statements the backend builds, for the keys that
go to the database."""
import ast
import json
import os
import re
import subprocess

import pytest

from conftest import ROOT, pg_cluster, pg_database

BACKENDS = ["pgsql"]
N = int(os.environ.get("HAVEN_EXPLAIN_MESSAGES", "100000"))
PER_MESSAGE = {"messages", "bodies", "body_chunks", "expunged", "append_log", "sort_keys"}


def statements():
    src = open(os.path.join(ROOT, "backends", "pgsql", "pg_conn.c")).read()
    table = src[src.index("stmt_sql[PS_NSTMTS] = {"):src.index("};", src.index("stmt_sql"))]
    out = {}
    for m in re.finditer(r"\[PS_(\w+)\]\s*=\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+)", table):
        out[m.group(1)] = "".join(ast.literal_eval(p) for p in
                                  re.findall(r"\"(?:[^\"\\]|\\.)*\"", m.group(2)))
    return out


@pytest.fixture(scope="module")
def big():
    c = pg_cluster()
    db = pg_database()
    c.psql("""
INSERT INTO haven.users (login) VALUES ('big'), ('other');
SELECT haven.store_open('big', 0); SELECT haven.store_open('other', 0);
CREATE TEMP TABLE src AS
SELECT g, 'Subject: message ' || g || E'\\r\\n\\r\\nbody of ' || g || E'\\r\\n' AS t
  FROM generate_series(1, 2000) g;
INSERT INTO haven.bodies (sha256, size, structure, search_text, body_start, addr_start)
SELECT digest(t, 'sha256'), octet_length(t), '\\x00', 'subject: message ' || g, 1, 1 FROM src;
INSERT INTO haven.body_chunks (body_id, seq, data)
SELECT b.id, 0, convert_to(s.t, 'UTF8') FROM src s JOIN haven.bodies b ON b.sha256 = digest(s.t, 'sha256');
INSERT INTO haven.messages (mailbox_id, uid, body_id, modseq, flags, internaldate, size)
SELECT (SELECT id FROM haven.mailboxes WHERE name = 'INBOX' AND user_id = 1), g,
       b.id, g + 1, CASE WHEN g % 3 = 0 THEN 1 ELSE 0 END, now(), b.size
  FROM generate_series(1, %(n)d) g JOIN haven.bodies b ON b.id = 1 + g % 2000;
INSERT INTO haven.messages (mailbox_id, uid, body_id, modseq, flags, internaldate, size)
SELECT m.id, g, b.id, g + 1, 0, now(), b.size
  FROM haven.mailboxes m, generate_series(1, %(n)d / 10) g JOIN haven.bodies b ON b.id = 1 + g % 2000
 WHERE m.user_id = 2;
UPDATE haven.mailboxes SET uidnext = %(n)d + 1, highestmodseq = %(n)d + 2
 WHERE user_id = 1 AND name = 'INBOX';
INSERT INTO haven.expunged (mailbox_id, uid, modseq)
SELECT 1, %(n)d + g, %(n)d + 1 FROM generate_series(1, 1000) g;
INSERT INTO haven.sort_keys (body_id, keys)
SELECT id, decode('01' || repeat('00', 45), 'hex') FROM haven.bodies;
-- other people's mail: what a text search must not read through
INSERT INTO haven.bodies (sha256, size, structure, search_text, body_start, addr_start)
SELECT digest('other ' || g, 'sha256'), 100, '\\x00',
       'subject: item ' || g || ' ' || md5(g::text) || ' ' || md5((-g)::text), 1, 1
  FROM generate_series(1, 30000) g;
-- bodies whose APPEND was moments ago: not in the trigram index yet (0019)
UPDATE haven.bodies SET text_indexed = id %% 1000 <> 0;
-- settled, as autovacuum leaves it (the trigram index's pending list of
-- new entries moved into the index)
VACUUM ANALYZE;
""".replace("%(n)d", str(N)).replace("%%", "%"), db=db)
    yield c, db


# Parameter values per statement: the big mailbox (id 1) of user 1, the
# kind of values the backend sends.
PARAMS = {
    "STORE_OPEN": ["'big'", "0"],
    "LIST": ["1"],
    "CREATE": ["1", "'New/Box'", "'{}'", "false"],
    "DELETE": ["1", "'Drafts'"],
    "RENAME": ["1", "'Sent'", "'Sent2'"],
    "SUBSCRIBE": ["1", "'Junk'", "true"],
    "STATUS": ["1", "'INBOX'"],
    "UPLOAD_BEGIN": ["1000"],
    "UPLOAD_CHUNK": ["1", "99", "'\\x41'::bytea"],
    "UPLOAD_DROP": ["1"],
    "APPEND": ["1", "'INBOX'", "gen_random_uuid()", "NULL", "'\\x41'::bytea",
               "digest('new', 'sha256')", "1", "'\\x00'::bytea", "'x'", "true", "1", "1", "NULL",
               "0",
               "'{}'", "1765000000", "0"],
    "APPEND_LOOKUP": ["gen_random_uuid()"],
    "SELECT": ["1", "'INBOX'", "false"],
    "CLAIM_RECENT": ["1", str(N + 1), "false"],
    "VIEW_SYNC": ["1", str(N - 10)],
    "VIEW_UIDS": ["1", str(N + 1), str(N - 10)],
    "META_RANGE": ["1", "5000", "6023"],
    "SEARCH_ROWS": ["1", "'{17,1017,2017,50017}'", "16384"],
    "MESSAGE_BODIES": ["1", "777", "808"],
    "CHUNK_READ": ["5", "0", "1", "100"],
    "STORE_FLAGS": ["1", "'{10,11,12}'", "1", "4", "'{$Work}'", "0"],
    "EXPUNGE": ["1", "'{20,21}'"],
    "COPY": ["1", "1", "'{30,31}'", "'Archive'", "false"],
    # Sieve scripts (0009): a user's own rows, and the replies sent
    "SIEVE_LIST": ["1"],
    "SIEVE_GET": ["1", "'s'"],
    "SIEVE_PUT": ["1", "'s'", "'keep;'", "32"],
    "SIEVE_DELETE": ["1", "'s'"],
    "SIEVE_RENAME": ["1", "'s'", "'t'"],
    "SIEVE_ACTIVATE": ["1", "'s'"],
    "SIEVE_ACTIVE": ["1"],
    "SIEVE_REPLY": ["1", "'key'", "86400"],
    # haven-admin import (0010)
    "IMPORT_BEGIN": ["1", "'Imported'", "77", "100", "false"],
    "IMPORT_MESSAGE": ["1", "'Imported'", "gen_random_uuid()", "NULL", "'\\x41'::bytea",
                       "digest('imported', 'sha256')", "1", "'\\x00'::bytea", "'x'", "true",
                       "1", "1", "NULL", "0", "'{}'", "1765000000", "0", "5"],
    # QUOTA (0012): the user's row
    "QUOTA_GET": ["1"],
    # METADATA (0013): a mailbox's entries and the server's
    "METADATA_LIST": ["1", "'INBOX'", "'/private/comment'"],
    "METADATA_SET": ["1", "'INBOX'", "'{/private/comment,/shared/comment}'",
                     "'\\x414243'::bytea", "'{3,-1}'", "1000", "1048576"],
    "METADATA_COPY": ["1", "'INBOX'", "'Sent'"],
    # the trigram index after the APPEND (0019): a batch of waiting bodies
    "INDEX_TEXTS": ["32"],
    # SORT/THREAD keys kept per body (0017)
    "SORT_KEYS": ["1", "'{17,1017,2017,50017}'", "1", "16384"],
    "SORT_KEYS_PUT": ["'{1,2,3}'", "'{01000000000000000000,01010000000000000000,0100000000000000000000}'"],
    # CATENATE: an upload's size known at its end
    "UPLOAD_SIZE": ["1", "100"],
    # an administrator's GETQUOTA/SETQUOTA of another user
    "QUOTA_GET_USER": ["'other'"],
    "QUOTA_SET_USER": ["'other'", "1000000", "1000"],
    # ACL (0016): big's INBOX, shared with other
    "ACL_LIST": ["1", "'INBOX'"],
    "ACL_SET": ["1", "'INBOX'", "'other'", "0", "'lr'"],
    "ACL_DELETE": ["1", "'INBOX'", "'other'"],
    "ACL_MYRIGHTS": ["1", "'INBOX'"],
}

# What must be there before a statement runs (in its transaction).
SETUP = {
    "SIEVE_DELETE": "SELECT haven.sieve_script_put(1, 's', 'keep;', 32);",
    "SIEVE_RENAME": "SELECT haven.sieve_script_put(1, 's', 'keep;', 32);",
    "SIEVE_ACTIVATE": "SELECT haven.sieve_script_put(1, 's', 'keep;', 32);",
    "IMPORT_MESSAGE": "SELECT haven.import_begin(1, 'Imported', 77, 100, false);",
    "METADATA_COPY": "SELECT haven.metadata_set(1, 'INBOX', '{/private/comment}', "
                     "'\\x41'::bytea, '{1}', 1000, 1048576);",    "ACL_DELETE": "SELECT haven.acl_set(1, 'INBOX', 'other', 0, 'lr');",
    "ACL_LIST": "SELECT haven.acl_set(1, 'INBOX', 'other', 0, 'lr');",
}


def plans_of(c, db, sql, params=None, seqscan=False, setup=""):
    """The plans of everything sql runs (auto_explain as notices); params:
    values of a prepared statement, or None for a statement run as is.
    Sequential scans are disabled unless seqscan: then the plans are the
    ones PostgreSQL picks by cost."""
    if params is None:
        run = "%s;\n" % sql
    else:
        run = "PREPARE s AS %s;\nEXECUTE s(%s);\n" % (sql, ", ".join(params))
    run = setup + "\n" + run
    text = ("LOAD 'auto_explain';\nSET auto_explain.log_min_duration = 0;\n"
            "SET auto_explain.log_nested_statements = on;\n"
            "SET auto_explain.log_format = json;\nSET auto_explain.log_level = notice;\n"
            "SET client_min_messages = notice;\nSET enable_seqscan = %s;\nBEGIN;\n" % (
                "on" if seqscan else "off") + run + "ROLLBACK;\n")
    r = c.psql(text, db=db, check=False)
    assert r.returncode == 0, (sql, r.stderr)
    return r.stderr


def seq_scans(plans):
    return sorted({m.group(1) for m in
                   re.finditer(r'"Node Type": "Seq Scan",[^}]*?"Relation Name": "(\w+)"', plans,
                               re.S)} & PER_MESSAGE)


def test_every_prepared_statement_has_an_index(big):
    c, db = big
    stmts = statements()
    assert set(stmts) == set(PARAMS), "statements and test parameters differ: %s" % (
        set(stmts) ^ set(PARAMS))
    bad = {}
    for name, sql in stmts.items():
        plans = plans_of(c, db, sql, PARAMS[name], setup=SETUP.get(name, ""))
        assert "Node Type" in plans, (name, plans[-2000:])
        scans = seq_scans(plans)
        if scans:
            bad[name] = scans
    assert not bad, "sequential scans of per-message tables: %s" % bad


def unescape(v):
    return re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), v)


def quote(v):
    return "'" + v.replace("'", "''") + "'"


@pytest.fixture(scope="module")
def searches(big):
    """The SEARCH statements the backend builds (logged at debug level
    with their values by a daemon serving the big mailbox), each with its
    values put in as literals, by search key."""
    from conftest import Haven
    c, db = big
    h = Haven(users=("big",), backend="pgsql")
    with open(h.conf) as f:
        conf = f.read()
    with open(h.conf, "w") as f:
        f.write(re.sub(r"pgsql_dsn = .*", "pgsql_dsn = %s" % c.dsn(db=db), conf))
    h.start()
    keys = (["SUBJECT", "message 17"], ["BODY", "nothing"], ["UNSEEN"],
            ["UID", "100:200"], ["LARGER", "50", "FLAGGED"], ["TEXT", "message 1999"],
            ["OR", "SEEN", "KEYWORD", "$Work"], ["1:100", "NOT", "DELETED"],
            ["SENTSINCE", "1-Jan-2020"], ["FROM", "nobody"])
    try:
        m = h.login("big")
        m.select("INBOX")
        for key in keys:
            assert m.search(None, *key)[0] == "OK"
        m.logout()
        log = h.log_text()
    finally:
        h.stop()
        h.cleanup()
    sqls = re.findall(r"pgsql: search: (.*)\n.*pgsql: search values: (.*)", log)
    assert len(sqls) == len(keys), log[-3000:]
    out = {}
    for key, (sql, vals) in zip(keys, sqls):
        values = {}
        for item in vals.split(" "):
            k, v = item.split("=", 1)
            values[k] = quote(unescape(v))
        # values as literals, highest placeholder first ($12 before $1)
        body = sql
        for k in sorted(values, key=lambda x: -int(x[1:])):
            body = body.replace(k, values[k])
        out[" ".join(key)] = body
    return out


def test_search_statements_use_indexes(big, searches):
    c, db = big
    for key, sql in searches.items():
        scans = seq_scans(plans_of(c, db, sql))
        assert not scans, (key, sql, scans)


def test_text_search_finds_candidates_by_index(big, searches):
    """With the planner choosing by cost, a text key of a needle few
    bodies hold reads its candidates through the trigram index, not every
    body of the database (the rows a text key keeps are "text cut short
    OR text LIKE needle": without an index for the first half, the two
    could not be combined and haven.bodies was read whole). The bodies
    not in the trigram index yet come through an index of their own."""
    c, db = big
    for key in ("BODY nothing", "FROM nobody"):
        plans = plans_of(c, db, searches[key], seqscan=True)
        assert "bodies_search" in plans, (key, plans[-3000:])
        assert "bodies_text_unindexed" in plans, (key, plans[-3000:])
        assert "bodies" not in seq_scans(plans), (key, plans[-3000:])


def test_view_uids_come_in_index_order(big):
    """The view's UID list (100,000 UIDs of the big mailbox and the
    expunged ones it still shows) is the two primary keys read in order and
    merged: no hashing or sorting of the whole list (UNION did both, and
    took four times as long as the reads)."""
    c, db = big
    plans = plans_of(c, db, statements()["VIEW_UIDS"], PARAMS["VIEW_UIDS"])
    nodes = set(re.findall(r'"Node Type": "([^"]+)"', plans))
    assert "Merge Append" in nodes, plans[-3000:]
    assert not nodes & {"Sort", "HashAggregate", "Unique"}, plans[-3000:]
