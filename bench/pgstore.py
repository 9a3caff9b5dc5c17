"""The benchmark's PostgreSQL: one throwaway cluster for the haven-pgsql
columns (tests/integration/pgcluster.py: initdb as the `postgres` user when
root, unix socket only), Haven's migrations, a login role for the user
workers (granted haven_mail) and one for provisioning (granted
haven_provision), users made with haven.create_user through psql.

The tuning (TUNING) is for this machine kind (2 vCPUs, 23 GB RAM, one
virtio disk shared with everything else) and is what bench/README.md
explains. Durability is the product: fsync, full_page_writes and
synchronous_commit stay on for every measured run. Only the seeding of
mailboxes (not measured) runs with synchronous_commit off; seeded() puts it
back, makes a CHECKPOINT (everything seeded is then on disk) and ANALYZEs."""
import pgcluster

TUNING = {
    "shared_buffers": "'1GB'",            # bigbox (100,000 messages) fits
    "effective_cache_size": "'8GB'",
    "work_mem": "'16MB'",
    "maintenance_work_mem": "'256MB'",
    "max_connections": "400",             # 2 per user worker (queries, LISTEN)
    "fsync": "on",
    "full_page_writes": "on",
    "synchronous_commit": "on",
    "max_wal_size": "'4GB'",              # no checkpoint forced by WAL volume in a run
    "checkpoint_timeout": "'15min'",
    "random_page_cost": "1.1",            # virtio disk, not a spinning one
    "effective_io_concurrency": "100",
    "jit": "off",                         # JIT compiles cost more than they save on OLTP
    "log_min_duration_statement": "500",  # slow statements in postgres.log
    "log_lock_waits": "on",
    "deadlock_timeout": "'200ms'",        # ... and lock waits longer than this
}

WORKER_ROLE = "bench_worker"
NOTES = set()  # what the benchmark had to do that an installation should not
PROVISION_ROLE = "bench_provision"


class BenchPg:
    def __init__(self):
        # the database start() makes holds only what is cluster-wide: the
        # group roles of migration 2; mail goes to database()s of its own
        self.pg = pgcluster.PgCluster(dbname="haven_roles")

    def start(self):
        self.pg.start(settings=TUNING)
        self.pg.migrate()
        self.pg.psql("CREATE ROLE %s LOGIN IN ROLE haven_mail; "
                     "CREATE ROLE %s LOGIN IN ROLE haven_provision" % (
                         WORKER_ROLE, PROVISION_ROLE), db="postgres")
        return self

    def database(self, name):
        """A new database with Haven's schema."""
        self.pg.create_database(name)
        self.pg.migrate(db=name)
        self.grant_missing(name)
        return name

    def grant_missing(self, db):
        """Migration 3 creates haven.append_log (the APPEND token log the
        backend writes in every APPEND) without granting it to haven_mail,
        so a worker role that is only granted haven_mail, as sql/README.md
        says to set one up, gets "permission denied" on every APPEND (the
        tests connect as a superuser and never see it). Until a migration
        grants it, the benchmark does, and says so (NOTES)."""
        if self.pg.psql("SELECT has_table_privilege('haven_mail', 'haven.append_log', "
                        "'INSERT')", db=db) == "t":
            return
        self.pg.psql("GRANT SELECT, INSERT, DELETE ON haven.append_log TO haven_mail", db=db)
        NOTES.add("sql/migrations grant haven_mail nothing on haven.append_log: the "
                  "benchmark granted SELECT, INSERT, DELETE itself")

    def dsn(self, db):
        """havend's pgsql_dsn: the worker role over the unix socket."""
        return self.pg.dsn(user=WORKER_ROLE, db=db)

    def create_users(self, db, users):
        """haven.create_user for each (login, password), as the
        provisioning role, through psql."""
        sql = "".join("SELECT haven.create_user('%s', '%s');\n" % (u, p) for u, p in users)
        self.pg.psql(sql, db=db, user=PROVISION_ROLE)

    def seeding(self):
        """synchronous_commit off until seeded(): APPEND acknowledged
        before its commit record is on disk (seeding only, never measured)."""
        self.pg.psql("ALTER SYSTEM SET synchronous_commit = off", db="postgres")
        self.pg.psql("SELECT pg_reload_conf()", db="postgres")

    def seeded(self, db):
        # what the user workers' idle time would do after a seeding: the
        # seeded texts into the trigram index (sql/migrations/0019)
        self.pg.psql("SELECT haven.index_texts()", db=db)
        self.pg.psql("ALTER SYSTEM RESET synchronous_commit", db="postgres")
        self.pg.psql("SELECT pg_reload_conf()", db="postgres")
        self.pg.psql("CHECKPOINT", db="postgres")
        self.pg.psql("VACUUM ANALYZE", db=db)

    def setting(self, name, db="postgres"):
        return self.pg.psql("SHOW %s" % name, db=db)

    def restart(self):
        self.pg.restart()

    def postmaster_pid(self):
        with open(self.pg.data + "/postmaster.pid") as f:
            return int(f.readline())

    def size(self, db):
        return int(self.pg.psql("SELECT pg_database_size('%s')" % db, db=db))

    def cleanup(self):
        self.pg.cleanup()
