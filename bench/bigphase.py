"""bench/run's bigbox phase: one user with one INBOX of BIG_N messages
(bench/bigbox.py) on each server of its own (haven, dovecot, haven-pgsql,
dovecot-maildir), cold and warm STATUS, SELECT, FETCH 1:* (UID FLAGS), UID
SEARCH SUBJECT, SEARCH BODY, SORT (ARRIVAL), (SUBJECT), (DATE) and THREAD
REFERENCES, every answer checked. On the Haven servers
a second user with the first SMALL_N of the same messages shows how the
user worker's memory grows with the mailbox. See bench/README.md
("bigbox")."""
import os
import time

import bigbox
import measure
from servers import (DovecotMaildirSrv, DovecotSrv, Group, HavenPgsqlSrv, HavenSrv, Mail,
                     log)

OPS = ["STATUS", "SELECT", "FETCH", "SEARCH_HEADER", "SEARCH_BODY", "SORT_ARRIVAL",
       "SORT_SUBJECT", "SORT_DATE", "THREAD_REFERENCES"]
CMD = {"STATUS": "STATUS", "SELECT": "SELECT", "FETCH": "FETCH_ALL_UID_FLAGS",
       "SEARCH_HEADER": "UID_SEARCH_SUBJECT", "SEARCH_BODY": "SEARCH_BODY",
       "SORT_ARRIVAL": "SORT_ARRIVAL", "SORT_SUBJECT": "SORT_SUBJECT",
       "SORT_DATE": "SORT_DATE", "THREAD_REFERENCES": "THREAD_REFERENCES"}
USER = ("bigbox", "pw-bigbox")
SMALL_USER = ("smallbox", "pw-smallbox")
SMALL_N = 1000
TIMEOUT = 900                         # per command, seconds
SERVERS = ("haven", "dovecot", "haven-pgsql", "dovecot-maildir")


class Phase:
    """ctx: bench/run's context (run_loadgen, work dir, TLS files, big_n,
    warm sessions per round, rounds, the PostgreSQL cluster)."""

    def __init__(self, ctx, ids):
        self.ctx, self.ids = ctx, ids
        self.n, self.work = ctx["big_n"], ctx["work"]
        self.expect = {self.n: self.write_expect(self.n), SMALL_N: self.write_expect(SMALL_N)}
        self.info = {"messages": self.n, "small_messages": SMALL_N,
                     "generator_version": bigbox.GEN_VERSION,
                     "warm_sessions_per_round": ctx["big_warm"], "first_open": {},
                     "memory": {}}

    def write_expect(self, n):
        e = bigbox.expectations(n)
        path = os.path.join(self.work, "bigbox-expect-%d" % n)
        with open(path, "w") as f:
            f.write("messages %d\nuidnext %d\nunseen %d\nsubject %s\nsubject_uids %s\n"
                    "body %s\nbody_seqs %s\n" % (
                        e["messages"], e["uidnext"], e["unseen"], e["subject_key"],
                        " ".join(map(str, e["subject_uids"])),
                        e["needle"], " ".join(map(str, e["needle_seqs"]))))
        return path

    def mail(self, n):
        path = bigbox.cached(n, self.ctx["cache_dir"])
        return Mail(path=path, appends=lambda: bigbox.appends(n),
                    maildir_flags=lambda i: "S" if bigbox.seen(i) else "")

    def servers(self, names):
        big, small = self.mail(self.n), self.mail(SMALL_N)
        self.info["file_bytes"] = os.path.getsize(big.path)
        out = []
        for name in names:
            d = os.path.join(self.work, "big-" + name)
            groups = [Group([USER], big)]
            if name.startswith("haven"):
                groups.append(Group([SMALL_USER], small))
            if name == "haven-pgsql":
                out.append(HavenPgsqlSrv(name, d, groups, self.ids, self.ctx["tls"],
                                         self.ctx["pg"](), "haven_big"))
                continue
            kind = {"haven": HavenSrv, "dovecot": DovecotSrv,
                    "dovecot-maildir": DovecotMaildirSrv}[name]
            out.append(kind(name, d, groups, self.ids, self.ctx["tls"]))
        return out

    def args(self, ops, sessions, user=USER, n=None):
        return ["--duration", "3600", "--users", "1", "--user-fmt", user[0], "--pass-fmt",
                user[1], "--max-sessions", str(sessions), "--timeout", str(TIMEOUT),
                "--big-ops", ",".join(ops), "--bigbox-expect", self.expect[n or self.n]]

    def run(self, srv, ops, sessions, user=USER, n=None):
        return self.ctx["run_loadgen"](srv, "bigbox", self.args(ops, sessions, user, n))

    def first_open(self, srv):
        """The first start: a store seeded through the server is seeded; a
        server may rewrite the generated file once (Dovecot pads
        X-IMAPbase/X-UID); what each leaves is its starting point."""
        srv.start()
        srv.prepare()
        r = self.run(srv, ["STATUS", "SELECT"], 1)
        srv.stop()
        fo = {"status_ms": r["commands"].get("STATUS", {}).get("p50_ms"),
              "select_ms": r["commands"].get("SELECT", {}).get("p50_ms"),
              "errors": r["errors"]["total"], "seed_s": getattr(srv, "seed_s", None)}
        for g in srv.groups:
            for u, _ in g.users:
                rewritten = srv.keep_baseline(u, g.mail)
                if u == USER[0]:
                    fo["file_rewritten"] = rewritten
        self.info["first_open"][srv.name] = fo
        log("bigbox first open %-16s STATUS %.0f ms, file rewritten: %s" % (
            srv.name, fo["status_ms"] or -1, fo.get("file_rewritten")))

    def cold(self, srv, ops):
        """Stop, back to the starting point with nothing cached (indexes
        removed, a database restarted), drop the page cache, start, run
        one session of ops."""
        t0 = time.time()
        srv.stop()
        srv.cold_reset()
        self.ctx["dropped"] = drop_caches() and self.ctx.get("dropped", True)
        srv.start()
        t1 = time.time()
        r = self.run(srv, ops, 1)
        r["restart_s"] = round(t1 - t0, 2)
        return r

    def memory(self, srv):
        """Peak and current RSS of the bigbox user's worker (it served the
        cold and the warm sessions), then of the smallbox user's after the
        same commands twice."""
        if not isinstance(srv, HavenSrv):
            return None
        big = srv.workers()
        r = self.run(srv, OPS, 2, SMALL_USER, SMALL_N)
        small = [p for p in srv.workers() if p not in big]
        m = {"errors": r["errors"]["total"]}
        for label, pids in (("big", big), ("small", small)):
            if len(pids) == 1:
                m[label + "_hwm_kib"] = measure.status_kib(pids[0], "VmHWM")
                m[label + "_rss_kib"] = measure.status_kib(pids[0], "VmRSS")
        return m

    def round(self, srv):
        cold_status = self.cold(srv, ["STATUS"])
        cold_rest = self.cold(srv, OPS[1:])
        warm = self.run(srv, OPS, self.ctx["big_warm"])
        out = {"cold_status": cold_status, "cold_select_chain": cold_rest, "warm": warm}
        mem = self.memory(srv)
        if mem:
            out["memory"] = mem
        return out


def drop_caches():
    """Write back dirty pages, then drop the page cache, dentries and inodes
    (every file's pages: the mailbox, the indexes, the servers' binaries)."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError as e:
        log("bigbox: cannot drop caches (%s): cold runs are server-cold only" % e)
        return False


LOADS = ("cold_status", "cold_select_chain", "warm")


def flat(r, warm_sessions):
    """One round of one server as table rows."""
    m = {}
    for op in OPS:
        src = r["cold_status"] if op == "STATUS" else r["cold_select_chain"]
        m["cold %s ms" % CMD[op]] = src["commands"].get(CMD[op], {}).get("p50_ms")
    for op in OPS:
        m["warm %s ms" % CMD[op]] = r["warm"]["commands"].get(CMD[op], {}).get("p50_ms")
    m["cold server CPU s"] = round(r["cold_status"]["server_cpu_s"] +
                                   r["cold_select_chain"]["server_cpu_s"], 3)
    m["warm server CPU s/session"] = round(r["warm"]["server_cpu_s"] / warm_sessions, 3)
    m["loadgen CPU s"] = round(sum(r[k]["loadgen_cpu_s"] for k in LOADS), 3)
    mem = r.get("memory") or {}
    for key, label in (("big_hwm_kib", "worker peak RSS MiB, bigbox"),
                       ("small_hwm_kib", "worker peak RSS MiB, %d msgs" % SMALL_N),
                       ("big_rss_kib", "worker RSS after MiB, bigbox"),
                       ("small_rss_kib", "worker RSS after MiB, %d msgs" % SMALL_N)):
        if mem.get(key) is not None:
            m[label] = round(mem[key] / 1024, 1)
    m["errors_total"] = sum(r[k]["errors"]["total"] for k in LOADS) + mem.get("errors", 0)
    return m


def run_phase(ctx, ids, results, names):
    """Every round of every server; returns the phase's info for the JSON."""
    t0 = time.time()
    ph = Phase(ctx, ids)
    servers = ph.servers(names)
    ctx["servers"] = ctx.get("servers", []) + [{s.name: s for s in servers}]
    try:
        for s in servers:
            ph.first_open(s)
        for rnd in range(ctx["rounds"]):
            for s in servers:
                r = ph.round(s)
                s.stop()  # not running during the other servers' rounds
                results["bigbox"][s.name].append(r)
                report_round(rnd, s, r, ctx["big_warm"])
    finally:
        for s in servers:
            s.stop()
        ctx["log_tail"](servers)
    ph.info["page_cache_dropped"] = ctx.get("dropped", False)
    ph.info["elapsed_s"] = round(time.time() - t0, 1)
    return ph.info


def report_round(rnd, s, r, warm_sessions):
    f = flat(r, warm_sessions)
    log("round %d bigbox   %-16s cold %s | warm %s | errors %d" % (
        rnd + 1, s.name,
        " ".join("%s %.0f" % (op, f["cold %s ms" % CMD[op]] or -1) for op in OPS),
        " ".join("%s %.0f" % (op, f["warm %s ms" % CMD[op]] or -1) for op in OPS),
        f["errors_total"]))
    for x in r.values():
        if isinstance(x, dict) and x.get("stderr"):
            log("  loadgen: " + x["stderr"].strip().replace("\n", "\n  loadgen: ")[:800])
