"""A throwaway PostgreSQL cluster for tests: initdb into a temp dir as an
unprivileged user (PostgreSQL refuses to run as root: as root the
`postgres` system user runs it, else the current user), listening on a unix
socket only, with Haven's migrations applied. Debian's PostgreSQL 15.
A multi-host test also makes it listen on TCP (tcp=), from inside a network
namespace (netns=)."""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIGRATIONS = os.path.join(ROOT, "sql", "migrations")


def pg_bindir():
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    return None


def available():
    return pg_bindir() is not None


class PgCluster:
    def __init__(self, dbname="haven", tcp=None, netns=None):
        """tcp: (listen_addresses, client subnet): PostgreSQL also listens
        on those addresses and trusts every connection from that subnet
        (trust, not passwords: the subnet is the test's own veth network,
        which nothing else reaches). netns: the network namespace the
        postmaster runs in (pg_ctl is started there; its children stay)."""
        self.tcp = tcp
        self.netns = netns
        self.bin = pg_bindir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries not found (scripts/install-deps)")
        self.dbname = dbname
        self.top = tempfile.mkdtemp(prefix="haven-pg-")
        os.chmod(self.top, 0o755)
        self.data = os.path.join(self.top, "data")
        self.sock = os.path.join(self.top, "sock")
        os.mkdir(self.sock)
        # world-searchable socket dir: user workers run as the mail user
        os.chmod(self.sock, 0o755)
        self.log = os.path.join(self.top, "postgres.log")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            os.chown(self.top, self.uid, self.gid)
            os.chown(self.sock, self.uid, self.gid)
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
        self.superuser = "pgadmin"
        self.port = 5432

    def _as_pg(self, argv, **kw):
        """Run argv as the cluster's owner."""
        if os.geteuid() == 0:
            argv = ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.gid,
                    "--clear-groups", "--"] + argv
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns] + argv
        return subprocess.run(argv, cwd=self.top, **kw)

    def start(self, settings=None):
        """initdb, start, create the database. settings: further
        postgresql.conf lines {name: value} (a benchmark's tuning); they
        come last, so they override the defaults written here."""
        self._as_pg([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", self.superuser,
                     "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                    check=True, capture_output=True)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '%s'\n" % (self.tcp[0] if self.tcp else ""))
            f.write("unix_socket_directories = '%s'\n"
                    "fsync = on\nmax_connections = 300\n"
                    "shared_buffers = 64MB\n" % self.sock)
            for k, v in (settings or {}).items():
                f.write("%s = %s\n" % (k, v))
        if self.tcp:
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
                f.write("host all all %s trust\n" % self.tcp[1])
        self.pg_ctl("start", "-w", "-t", "60", "-l", self.log)
        self.psql("CREATE DATABASE %s" % self.dbname, db="postgres")
        return self

    def start_copy(self, source, standby):
        """A cluster made by pg_basebackup of source (no initdb, no
        migrations: the copy has source's databases and roles), with its
        own socket directory and no synchronous standby of its own. As a
        standby (-R) it streams from source; else it is a primary of its
        own from the start."""
        argv = [os.path.join(self.bin, "pg_basebackup"), "-D", self.data, "-h", source.sock,
                "-p", str(source.port), "-U", source.superuser, "-X", "stream", "-c", "fast",
                "--no-sync"]
        self._as_pg(argv + (["-R"] if standby else []), check=True, capture_output=True)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("unix_socket_directories = '%s'\nsynchronous_standby_names = ''\n"
                    % self.sock)
        self.pg_ctl("start", "-w", "-t", "60", "-l", self.log)
        return self

    def pg_ctl(self, *args, check=True):
        return self._as_pg([os.path.join(self.bin, "pg_ctl"), "-D", self.data] + list(args),
                           check=check, capture_output=True)

    def restart(self):
        self.pg_ctl("restart", "-w", "-t", "60", "-m", "fast", "-l", self.log)

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.pg_ctl("stop", "-w", "-t", "60", "-m", "fast", check=False)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.top, ignore_errors=True)

    def dsn(self, user=None, db=None, host=None):
        """host: a TCP address (tcp=) instead of the unix socket."""
        return "host=%s port=%d dbname=%s user=%s" % (host or self.sock, self.port,
                                                       db or self.dbname,
                                                       user or self.superuser)

    def psql(self, sql, db=None, user=None, check=True, vars=None):
        """Run SQL through psql; stdout (tuples only, unaligned)."""
        argv = ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                "-U", user or self.superuser, "-d", db or self.dbname]
        for k, v in (vars or {}).items():
            argv += ["-v", "%s=%s" % (k, v)]
        r = subprocess.run(argv, input=sql, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError("psql failed: %s\n%s" % (sql[:500], r.stderr))
        return r.stdout.strip() if check else r

    def migrate(self, db=None):
        for f in sorted(glob.glob(os.path.join(MIGRATIONS, "*.sql"))):
            with open(f) as fh:
                self.psql(fh.read(), db=db)

    def create_database(self, name):
        """Another empty database in the cluster (roles are shared)."""
        self.psql('CREATE DATABASE "%s"' % name, db="postgres")
        return name

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.psql("SELECT 1", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not come back")
