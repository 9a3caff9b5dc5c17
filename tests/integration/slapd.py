"""A throwaway OpenLDAP server for tests: Debian's slapd with a
slapd.conf in a temporary directory, an mdb database loaded from a small
LDIF with slapadd, listening on loopback only, with a test CA and a
server certificate for StartTLS and ldaps://."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SLAPD = "/usr/sbin/slapd"
SCHEMA = "/etc/ldap/schema"
BASE = "dc=example,dc=org"


def available():
    return os.path.exists(SLAPD) and os.path.exists(os.path.join(SCHEMA, "nis.schema"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_ca(d, name="Haven test CA"):
    """A CA and a server certificate for 127.0.0.1/localhost signed by it."""
    run = lambda *a: subprocess.run(list(a), check=True, capture_output=True, cwd=d)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=" + name, "-keyout", "ca.key", "-out", "ca.pem")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", "server.pem")
    return os.path.join(d, "ca.pem")


def ssha(password):
    return subprocess.run(["/usr/sbin/slappasswd", "-s", password], check=True,
                          capture_output=True, text=True).stdout.strip()


class Slapd:
    def __init__(self, users):
        """users: {uid: (password, uidNumber, gidNumber, home, extra attrs dict)}"""
        self.dir = tempfile.mkdtemp(prefix="haven-slapd-")
        os.chmod(self.dir, 0o755)
        self.port, self.tls_port = free_port(), free_port()
        self.ca = make_ca(self.dir)
        os.mkdir(os.path.join(self.dir, "db"))
        self.conf = os.path.join(self.dir, "slapd.conf")
        with open(self.conf, "w") as f:
            f.write("".join("include %s/%s.schema\n" % (SCHEMA, s)
                            for s in ("core", "cosine", "nis", "inetorgperson")))
            f.write("modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
                    "pidfile %(d)s/slapd.pid\n"
                    "TLSCACertificateFile %(d)s/ca.pem\n"
                    "TLSCertificateFile %(d)s/server.pem\n"
                    "TLSCertificateKeyFile %(d)s/server.key\n"
                    "database mdb\nmaxsize 10485760\nsuffix \"%(b)s\"\n"
                    "rootdn \"cn=admin,%(b)s\"\nrootpw admin-secret\n"
                    "directory %(d)s/db\n"
                    "access to attrs=userPassword by self read by anonymous auth by * none\n"
                    "access to * by users read by * none\n" % {"d": self.dir, "b": BASE})
        self.load(users)
        self.proc = None

    def load(self, users):
        ldif = ["dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n" % BASE,
                "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n" % BASE,
                "dn: cn=reader,%s\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\n"
                "cn: reader\nuserPassword: %s\n" % (BASE, ssha("reader-secret"))]
        for uid, (pw, un, gn, home, extra) in users.items():
            e = ("dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n"
                 "uid: %s\ncn: %s\nsn: %s\nuidNumber: %d\ngidNumber: %d\nhomeDirectory: %s\n"
                 "userPassword: %s\n" % (uid.replace(",", "\\,"), BASE, uid, uid, uid, un, gn,
                                          home, ssha(pw)))
            e += "".join("%s: %s\n" % kv for kv in extra.items())
            ldif.append(e)
        path = os.path.join(self.dir, "data.ldif")
        with open(path, "w") as f:
            f.write("\n".join(ldif))
        r = subprocess.run(["/usr/sbin/slapadd", "-f", self.conf, "-l", path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError("slapadd: " + r.stderr[-2000:])

    @property
    def uri(self):
        return "ldap://127.0.0.1:%d/" % self.port

    @property
    def ldaps_uri(self):
        return "ldaps://127.0.0.1:%d/" % self.tls_port

    def start(self):
        self.proc = subprocess.Popen([SLAPD, "-f", self.conf, "-d", "0",
                                      "-h", "%s %s" % (self.uri, self.ldaps_uri)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                assert self.proc.poll() is None, "slapd exited"
                time.sleep(0.1)
        raise RuntimeError("slapd did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
