"""The Sieve script store of the PostgreSQL backend: the store_sieve_*
tests of tests/unit/test_sieve_store.c run against a real database, and
the provisioning functions of sql/migrations/0009-sieve.sql with the roles
they are granted to. (The mbox store runs the same C tests in make
unit-tests.)"""
import os
import subprocess

import pytest

import conftest
import pgcluster

pytestmark = pytest.mark.skipif(not pgcluster.available() or
                                "pgsql" not in conftest.ALL_BACKENDS,
                                reason="no PostgreSQL server")

PROV = "haven_sieve_prov"


def database():
    c = conftest.pg_cluster()
    db = conftest.pg_database()
    c.psql("INSERT INTO haven.users (login) VALUES ('alice'), ('bob')", db=db)
    c.psql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
           "CREATE ROLE %s LOGIN IN ROLE haven_provision; END IF; END $$" % (PROV, PROV),
           db="postgres")
    return c, db


def test_store_operations_on_postgresql():
    c, db = database()
    binary = os.path.join(conftest.BUILD, "tests", "test_sieve_store")
    assert os.path.exists(binary), "build the unit tests first (make asan)"
    env = dict(os.environ, HAVEN_TEST_PGDSN=c.dsn(db=db, user="haven_worker"))
    r = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "[  PASSED  ] 6 test(s)" in out and "[  SKIPPED ] test_mbox_layout" in out, out


def test_provisioning_functions():
    c, db = database()
    script = "require \"fileinto\";\nfileinto \"Lists\";\n"
    c.psql("SELECT haven.sieve_put('alice', 'rules', :'s', true)", db=db, user=PROV,
           vars={"s": script})
    c.psql("SELECT haven.sieve_put('Alice', 'spare', 'keep;', false)", db=db, user=PROV)
    assert c.psql("SELECT name, active, bytes FROM haven.sieve_scripts('alice')",
                  db=db, user=PROV) == "rules|t|%d\nspare|f|5" % len(script)
    # one active at a time
    c.psql("SELECT haven.sieve_put('alice', 'spare', 'discard;', true)", db=db, user=PROV)
    assert c.psql("SELECT name, active FROM haven.sieve_scripts('alice')",
                  db=db, user=PROV) == "rules|f\nspare|t"
    c.psql("SELECT haven.sieve_activate('alice', NULL)", db=db, user=PROV)
    assert c.psql("SELECT count(*) FROM haven.sieve_scripts WHERE active", db=db) == "0"
    c.psql("SELECT haven.sieve_delete('alice', 'rules')", db=db, user=PROV)
    assert c.psql("SELECT name FROM haven.sieve_scripts('alice')", db=db, user=PROV) == "spare"
    # bad names, unknown logins and scripts are refused
    for sql in ("SELECT haven.sieve_put('alice', 'a/b', 'keep;', false)",
                "SELECT haven.sieve_put('alice', '', 'keep;', false)",
                "SELECT haven.sieve_put('nobody', 'x', 'keep;', false)",
                "SELECT haven.sieve_delete('alice', 'rules')",
                "SELECT haven.sieve_activate('alice', 'rules')"):
        r = c.psql(sql, db=db, user=PROV, check=False)
        assert r.returncode != 0, sql
    # the provisioning role reads no table; the workers' role calls no
    # provisioning function
    r = c.psql("SELECT * FROM haven.sieve_scripts", db=db, user=PROV, check=False)
    assert r.returncode != 0 and "permission denied" in r.stderr
    r = c.psql("SELECT haven.sieve_put('alice', 'x', 'keep;', false)", db=db,
               user="haven_worker", check=False)
    assert r.returncode != 0 and "permission denied" in r.stderr
    # a user's scripts go with the user
    c.psql("SELECT haven.delete_user('alice')", db=db, user=PROV)
    assert c.psql("SELECT count(*) FROM haven.sieve_scripts", db=db) == "0"
