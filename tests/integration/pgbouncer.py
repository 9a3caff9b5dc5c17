"""A throwaway PgBouncer in front of a PgCluster (pgcluster.py): its own
directory with pgbouncer.ini and an auth file, a loopback port, trust
authentication (the cluster trusts its unix socket), run as the cluster's
unprivileged owner (PgBouncer refuses to run as root). Debian 12 ships
PgBouncer 1.18: no prepared statements in transaction pooling."""
import os
import shutil
import subprocess
import tempfile

from conftest import free_port
from netwait import wait_listening


def available():
    return shutil.which("pgbouncer") is not None


class PgBouncer:
    def __init__(self, pg, mode, users, pool_size=4):
        self.pg = pg
        self.top = tempfile.mkdtemp(prefix="haven-pgb-")
        os.chmod(self.top, 0o755)
        self.port = free_port()
        self.log = os.path.join(self.top, "pgbouncer.log")
        with open(os.path.join(self.top, "users.txt"), "w") as f:
            f.write("".join('"%s" ""\n' % u for u in users))
        with open(os.path.join(self.top, "pgbouncer.ini"), "w") as f:
            f.write("[databases]\n* = host=%s port=%d\n[pgbouncer]\n"
                    "listen_addr = 127.0.0.1\nlisten_port = %d\nunix_socket_dir =\n"
                    "auth_type = trust\nauth_file = %s/users.txt\npool_mode = %s\n"
                    "default_pool_size = %d\nmax_client_conn = 200\n"
                    "logfile = %s\nserver_check_delay = 0\n"
                    % (pg.sock, pg.port, self.port, self.top, mode, pool_size, self.log))
        os.chown(self.top, pg.uid, pg.gid)
        self.proc = None

    def start(self):
        argv = ["pgbouncer", os.path.join(self.top, "pgbouncer.ini")]
        if os.geteuid() == 0:
            argv = ["setpriv", "--reuid=%d" % self.pg.uid, "--regid=%d" % self.pg.gid,
                    "--clear-groups", "--"] + argv
        self.proc = subprocess.Popen(argv, cwd=self.top, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        wait_listening(self.port, self.proc, 15, self.log_text)
        return self

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def dsn(self, db, user):
        return "host=127.0.0.1 port=%d dbname=%s user=%s" % (self.port, db, user)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()   # (SIGTERM: PgBouncer's immediate shutdown)
            self.proc.wait(timeout=20)
        shutil.rmtree(self.top, ignore_errors=True)

