"""bench/run's tables: one run's numbers flattened to rows, medians over the
rounds, and the ratio columns: H/D = haven / dovecot (the same storage
format, mbox), P/DM = haven-pgsql / dovecot-maildir (a store without
mbox's whole-file costs against Dovecot's) and PR/DM =
haven-pgsql-reuse / dovecot-maildir (the same with login workers reused,
as Dovecot's are in its high-performance mode)."""
import statistics

METRICS = ["messages_s", "deliveries_s", "commands_s", "logins_s", "server_cpu_s", "loadgen_cpu_s",
           "pss_per_session_kib", "pss_delta_per_session_kib", "server_procs_held"]
RATIOS = [("H/D", "haven", "dovecot"), ("P/DM", "haven-pgsql", "dovecot-maildir"),
          ("PR/DM", "haven-pgsql-reuse", "dovecot-maildir")]
ORDER = ["haven", "dovecot", "H/D", "haven-pgsql", "dovecot-maildir", "P/DM",
         "haven-pgsql-reuse", "PR/DM", "haven-reuse", "haven-scram", "haven-pam"]


def flatten(r):
    """One load generator run as {row: value}."""
    m = {k: r.get(k) for k in METRICS}
    m["errors_total"] = r["errors"]["total"]
    if r.get("total_commands") and r.get("server_cpu_s") is not None:
        m["server_cpu_ms_per_cmd"] = round(1000 * r["server_cpu_s"] / max(1, r["total_commands"]), 4)
    if r.get("messages") and r.get("server_cpu_s") is not None:
        m["server_cpu_ms_per_msg"] = round(1000 * r["server_cpu_s"] / r["messages"], 4)
    for c, v in r["commands"].items():
        m["%s ops/s" % c] = v["ops_s"]
        m["%s p50 ms" % c] = v["p50_ms"]
        m["%s p99 ms" % c] = v["p99_ms"]
        if v["errors"]:
            m["%s errors" % c] = v["errors"]
        if v.get("partial"):
            m["%s partial" % c] = v["partial"]
    return m


def median_of(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def medians(flat):
    """{server: [rows of each round]} -> {row: {server or ratio: median}}"""
    keys = []
    for runs in flat.values():
        for r in runs:
            for k in r:
                if k not in keys:
                    keys.append(k)
    rows = {}
    for k in keys:
        row = {name: median_of(runs, k) for name, runs in flat.items()}
        for label, a, b in RATIOS:
            x, y = row.get(a), row.get(b)
            row[label] = round(x / y, 3) if x is not None and y else None
        rows[k] = row
    return rows


def columns(names):
    """The table's columns for the servers of a profile, ratios where both
    of their servers are there."""
    have = set(names)
    ratio_ok = {label for label, a, b in RATIOS if a in have and b in have}
    return [c for c in ORDER if c in have or c in ratio_ok] + [n for n in names
                                                                if n not in ORDER]


def fmt(x):
    return "-" if x is None else ("%.3f" % x if isinstance(x, float) else str(x))


def print_table(title, rows, names):
    print("== " + title)
    cols = columns(names)
    print("%-36s" % "metric" + "".join("%16s" % c for c in cols))
    for k, v in rows.items():
        if all(v.get(n) is None for n in names):
            continue
        print("%-36s" % k + "".join("%16s" % fmt(v.get(c)) for c in cols))
    print()


def print_log_tail(servers, log):
    for s in servers:
        try:
            with open(s.log, errors="replace") as f:
                tail = f.read()[-1500:]
        except OSError:
            continue
        # Dovecot logs every login at info level, and a line per process it
        # kills at the end: show only problems
        lines = [ln for ln in tail.splitlines() if " Info: " not in ln and
                 "Shutting down logging" not in ln and "Killed with signal 15" not in ln and
                 "read(anvil) failed: EOF" not in ln]
        if any(ln.strip() for ln in lines):
            log("--- %s (%s) log tail ---\n%s" % (s.name, s.d, "\n".join(lines[-15:])))
