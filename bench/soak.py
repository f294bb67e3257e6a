"""Soak: `monitor run` against a farm of flaky feeds for a set time, then an audit of the archive.

Run by hand: `python bench/soak.py [--minutes 20] [--quick] [--seed 1] [--every 5s] [--keep]`.
Prints a table of figures and exits 1 if a check fails.

Why: unit tests show each fault handled once; a service left running for months must also not
lose, duplicate or leak anything when faults keep coming. The farm (bench/soakfarm.py) serves
200 feeds on 100 loopback hosts whose items change every 3 to 12 seconds, and answers 10% of
requests with a fault drawn from the matrix (resets, stalls, dribbles, 403/404/429/500/503,
redirect loops and file: redirects, empty, oversized, gzip bombs, truncated gzip, lying charsets,
invalid UTF-8, NUL bytes, HTML, malformed XML; never 410, which retires a source for good).

The service runs as a real subprocess on a temporary config and SQLite file; its RSS is sampled
from /proc every 2 s. At the end it gets SIGTERM (it must exit 0), the farm freezes (no new
items, no faults) and one `monitor poll` fetches what is left. Then the checks:
- every item the farm sent in a clean 200 is stored, exactly once (by its link; no second row
  under its guid), and nothing is stored that the farm never sent;
- an item stored with its own title matches its topic exactly when it was written to;
- every match is in the digest of the day it was first seen (`monitor digest --date`);
- the logs hold no unhandled exception;
- RSS in the last 30 s is less than 10% above RSS at the one-minute mark (medians of the
  samples around each, so that one spike decides nothing; the last sample and the maximum are
  printed too).
Items that scrolled off a feed before any clean fetch reached them are counted apart: the
service cannot store what it was never given.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from soakfarm import FAULTS, Farm

from monitor.core.digest import day_being_gathered

MONITOR = [sys.executable, "-m", "monitor"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
TZ = "Asia/Tokyo"
DIGEST_AT = clock_time(8, 0)
TOPICS = [
    {"name": "softbank-openai", "title": "SoftBank and OpenAI", "query": "(SoftBank OR ソフトバンク) OpenAI"},
    {"name": "stargate", "title": "Stargate", "query": '(Stargate OR スターゲート) -"SG-1"'},
]
# What a crash looks like in the logs; handled errors (event=poll ... status=error) are not.
UNHANDLED = re.compile(r"Traceback|event=internal_error|event=job_crashed|exception was never retrieved|"
                       r"Exception in callback|Unhandled|Fatal Python error")
MAX_GROWTH = 0.10


@dataclass
class Run:
    """What the service did while it ran: RSS samples (seconds since start, kB) and its exit."""

    seconds: float = 0.0
    samples: list[tuple[float, int]] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the service's user + system time, last read before SIGTERM
    stop_seconds: float = 0.0  # SIGTERM to exit
    returncode: int | None = None
    final_poll_rc: int | None = None

    def rss_around(self, start: float, end: float) -> int | None:
        """The median RSS sampled in [start, end): one sample can catch a passing spike (a 1 MB
        body being inflated), and a trend should not be judged on that."""
        window = sorted(kb for t, kb in self.samples if start <= t < end)
        return window[len(window) // 2] if window else None

    def rss_last(self) -> int | None:
        return self.samples[-1][1] if self.samples else None

    def rss_max_after(self, t: float) -> int | None:
        return max((kb for s, kb in self.samples if s >= t), default=None)


@dataclass
class Findings:
    """The audit's figures; lists hold the offending links or log lines."""

    created: int  # items that existed on some feed before the freeze
    published: int  # of those, sent in a clean 200
    never_served: int  # scrolled off before any response carried them
    stored: int
    missing: list[str]  # published, not stored
    duplicates: int  # stored under two keys (same guid)
    unexpected: list[str]  # stored, never sent by the farm
    only_damaged: int  # stored, only ever seen in a damaged body
    revised: int  # entries whose title a later poll corrected (first stored from a damaged body)
    shared: int  # entries carried by two feeds (syndicated), one row each
    exact: int  # stored with the title the farm wrote
    wrong_title: int
    missed: int  # exact-title topic items without a match
    false_hits: int  # exact-title non-topic items with one
    matches: int
    matched_entries: int
    in_digest: int
    digest_days: list[date]
    unhandled: list[str]
    errors: Counter[str]
    polls: Counter[str]


def write_config(folder: Path, farm: Farm, *, every: str, timeout: float, max_bytes: int) -> Path:
    config = {
        "database": "sqlite:///soak.db",
        "timezone": TZ,
        "log_level": "info",
        # concurrency above the default 20: the ticker claims at most that many sources every 2 s, so
        # 20 caps the service at 10 polls/s, below the 40/s that 200 sources every 5 s ask for.
        "fetch": {"user_agent": "monitor-soak/1", "timeout": timeout, "max_bytes": max_bytes, "per_host": 2,
                  "concurrency": 50},
        "sources": [{"name": f.name, "url": f.url, "every": every} for f in farm.feeds],
        "topics": TOPICS,
        "digest": {"at": DIGEST_AT.strftime("%H:%M"), "dir": "digests"},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def stored_count(db: Path) -> int:
    """Entries so far, read beside the running service (WAL: readers never block it)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("select count(*) from entries").fetchone()[0])
    except sqlite3.Error:
        return -1


def run_service(config: Path, log: Path, seconds: float, farm: Farm) -> Run:
    """`monitor run` for `seconds`, sampling its RSS; then SIGTERM, which must end it with 0."""
    run = Run()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([*MONITOR, "--config", str(config), "run"], stdout=out, stderr=subprocess.STDOUT,
                                cwd=config.parent, env=ENV)
        started = time.monotonic()
        next_line = 30.0
        while (elapsed := time.monotonic() - started) < seconds and proc.poll() is None:
            kb = rss_kb(proc.pid)
            if kb is not None:
                run.samples.append((elapsed, kb))
            run.cpu_seconds = cpu_seconds(proc.pid) or run.cpu_seconds
            if elapsed >= next_line:
                ledger = farm.ledger
                faults = sum(ledger.counts[k] for k in FAULTS)
                print(f"  {elapsed:5.0f}s  rss {kb or 0:>7} kB  requests {ledger.requests:>6}  faults {faults:>5}  "
                      f"entries {stored_count(config.parent / 'soak.db'):>6}", file=sys.stderr, flush=True)
                next_line += 30
            time.sleep(2)
        run.seconds = time.monotonic() - started
        stopping = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        run.returncode = proc.returncode
        run.stop_seconds = time.monotonic() - stopping
    log.with_name("rss.csv").write_text("seconds,rss_kb\n" + "".join(f"{t:.0f},{kb}\n" for t, kb in run.samples))
    return run


def final_poll(config: Path, log: Path) -> int:
    """One `monitor poll` of every source, the farm frozen and clean: the items published while
    the service was stopping, or left in back-off, are fetched once more."""
    with log.open("w", encoding="utf-8") as out:
        return subprocess.run([*MONITOR, "--config", str(config), "poll"], stdout=out, stderr=subprocess.STDOUT,
                              cwd=config.parent, env=ENV, timeout=300, check=False).returncode


def digests(config: Path, days: set[date]) -> dict[date, str]:
    """The Markdown digest of each day, made by `monitor digest --date` as a user would."""
    out = {}
    for day in sorted(days):
        path = config.parent / "digests" / f"check-{day.isoformat()}.md"
        subprocess.run([*MONITOR, "--config", str(config), "digest", "--date", day.isoformat(), "--out", str(path)],
                       check=True, capture_output=True, cwd=config.parent, env=ENV, timeout=300)
        out[day] = path.read_text(encoding="utf-8")
    return out


def audit(config: Path, farm: Farm, logs: list[Path]) -> Findings:
    """Compare the archive, the digests and the logs with the farm's ledger."""
    ledger = farm.ledger
    with sqlite3.connect(config.parent / "soak.db") as conn:
        entries = conn.execute("select id, key, guid, title, first_seen from entries").fetchall()
        revised = conn.execute("select count(*) from entries where updated_at > first_seen").fetchone()[0]
        shared = conn.execute("select count(*) from (select entry_id from entry_sources group by entry_id "
                              "having count(*) > 1)").fetchone()[0]
        matched = conn.execute("select m.entry_id, m.topic, e.url, e.first_seen from matches m "
                               "join entries e on e.id = m.entry_id").fetchall()
    by_key = {key: (eid, guid, title) for eid, key, guid, title, _ in entries}
    guids = Counter(guid for _, _, guid, _, _ in entries)
    created = farm.created()

    missing = sorted(link for link in ledger.published if link not in by_key)
    unexpected = sorted(key for key in by_key if key not in ledger.exposed)
    duplicates = sum(n - 1 for n in guids.values() if n > 1)

    # Topics: judged only where the stored title is the one the farm wrote (a lying charset may
    # leave mojibake behind when the item scrolls off before a clean fetch revises it).
    matched_ids = {eid for eid, *_ in matched}
    exact = wrong_title = missed = false_hits = 0
    for link, (eid, _guid, title) in by_key.items():
        item = ledger.items.get(link)
        if item is None:
            continue
        if title != item.title:
            wrong_title += 1
            continue
        exact += 1
        if item.topic and eid not in matched_ids:
            missed += 1
        elif not item.topic and eid in matched_ids:
            false_hits += 1

    tz = ZoneInfo(TZ)
    days = {}
    for eid, _topic, url, first_seen in matched:
        seen = datetime.fromisoformat(first_seen).replace(tzinfo=UTC)
        days[eid] = (day_being_gathered(seen, DIGEST_AT, tz), url)
    texts = digests(config, {d for d, _ in days.values()})
    in_digest = sum(1 for d, url in days.values() if f"]({url})" in texts[d])

    unhandled: list[str] = []
    errors: Counter[str] = Counter()
    polls: Counter[str] = Counter()
    for log in logs:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if UNHANDLED.search(line):
                unhandled.append(line)
            if " ERROR " in line or " CRITICAL " in line:
                event = re.search(r"event=(\S+)", line)
                errors[event.group(1) if event else line.split(" ERROR ")[-1][:60]] += 1
            if m := re.search(r"event=poll .*?status=(\S+)", line):
                polls[m.group(1)] += 1
    return Findings(
        created=len(created), published=len(ledger.published), never_served=len(created.keys() - ledger.exposed),
        stored=len(entries), missing=missing, duplicates=duplicates, unexpected=unexpected,
        only_damaged=len((ledger.exposed - ledger.published) & by_key.keys()), revised=revised, shared=shared,
        exact=exact,
        wrong_title=wrong_title, missed=missed, false_hits=false_hits, matches=len(matched),
        matched_entries=len(days), in_digest=in_digest, digest_days=sorted(texts), unhandled=unhandled,
        errors=errors, polls=polls,
    )


def report(args: argparse.Namespace, farm: Farm, run: Run, found: Findings) -> list[str]:
    """Print the figures; return the checks that failed."""
    ledger = farm.ledger
    faults = {k: ledger.counts[k] for k in FAULTS if ledger.counts[k]}
    at_1m, end = run.rss_around(50, 70), run.rss_around(run.seconds - 30, run.seconds)
    last, peak = run.rss_last(), run.rss_max_after(60)
    growth = (end - at_1m) / at_1m if at_1m and end and run.seconds >= 120 else None

    def pct(kb: int | None) -> str:
        return f"{100 * (kb - at_1m) / at_1m:+.1f}%" if kb and at_1m else "n/a"
    hosts = len({(f.host, f.port) for f in farm.feeds})
    where = "" if farm.loopback_hosts else " (ports on 127.0.0.1: no 127.0.0.x addresses here)"
    requests = (f"{ledger.requests} ({ledger.counts['ok']} ok, {ledger.counts['not_modified']} not modified, "
                f"{ledger.counts['redirect_hop']} redirect hops)")
    injected = sum(faults.values())
    share = f"{injected} ({100 * injected / max(ledger.drawn, 1):.1f}% of {ledger.drawn} requests before the freeze)"
    rows = [
        ("duration", f"{run.seconds / 60:.1f} min, sources every {args.every}, seed {args.seed}"),
        ("service CPU", f"{run.cpu_seconds:.0f} s ({100 * run.cpu_seconds / max(run.seconds, 1):.0f}% of one core)"),
        ("feeds / hosts", f"{len(farm.feeds)} / {hosts}{where}"),
        ("requests", requests),
        ("faults injected", share),
        *((f"  {k}", str(v)) for k, v in sorted(faults.items())),
        ("polls logged", ", ".join(f"{k} {v}" for k, v in sorted(found.polls.items()))),
        ("items created", str(found.created)),
        ("  never served (scrolled off)", str(found.never_served)),
        ("items published (clean 200)", str(found.published)),
        ("entries stored", str(found.stored)),
        ("  carried by two feeds", str(found.shared)),
        ("  revised (damaged title fixed)", str(found.revised)),
        ("  only seen in damaged bodies", str(found.only_damaged)),
        ("missing", str(len(found.missing))),
        ("duplicates", str(found.duplicates)),
        ("unexpected (never sent)", str(len(found.unexpected))),
        ("titles left damaged", str(found.wrong_title)),
        ("topic misses / false hits", f"{found.missed} / {found.false_hits} (of {found.exact} exact titles)"),
        ("matches (entries)", f"{found.matches} ({found.matched_entries})"),
        ("matched entries in a digest", f"{found.in_digest} (digests {', '.join(map(str, found.digest_days))})"),
        ("unhandled exceptions", str(len(found.unhandled))),
        ("error lines by event", ", ".join(f"{k} {v}" for k, v in found.errors.most_common()) or "none"),
        ("exit on SIGTERM / final poll", f"{run.returncode} (after {run.stop_seconds:.1f} s) / {run.final_poll_rc}"),
        ("RSS at 1 min (median 50-70 s)", f"{at_1m} kB"),
        ("RSS at end (median, last 30 s)", f"{end} kB ({pct(end)})"),
        ("RSS last sample / max", f"{last} kB ({pct(last)}) / {peak} kB ({pct(peak)})"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    failed = []
    if found.missing:
        failed.append(f"{len(found.missing)} published items not stored, e.g. {found.missing[:3]}")
    if found.duplicates:
        failed.append(f"{found.duplicates} items stored twice")
    if found.unexpected:
        failed.append(f"{len(found.unexpected)} entries the farm never sent, e.g. {found.unexpected[:3]}")
    if found.missed or found.false_hits:
        failed.append(f"topic matching: {found.missed} missed, {found.false_hits} false hits")
    if found.in_digest != found.matched_entries:
        failed.append(f"{found.matched_entries - found.in_digest} matched entries not in their digest")
    if found.unhandled:
        failed.append(f"{len(found.unhandled)} unhandled exceptions, first: {found.unhandled[0]}")
    if run.returncode != 0:
        failed.append(f"monitor run exited {run.returncode} on SIGTERM, not 0")
    if run.final_poll_rc != 0:
        failed.append(f"the final monitor poll exited {run.final_poll_rc}")
    if growth is None:
        failed.append("no RSS growth figure: the service ran less than two minutes")
    elif growth >= MAX_GROWTH:
        failed.append(f"RSS grew {100 * growth:.1f}% after the first minute (limit {100 * MAX_GROWTH:g}%)")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="how long the service runs (default 20)")
    parser.add_argument("--quick", action="store_true", help="2 minutes")
    parser.add_argument("--seed", type=int, default=1, help="feeds' rhythms and the fault draws")
    parser.add_argument("--every", default="5s", help="each source's poll interval (default 5s)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (kept anyway on failure)")
    args = parser.parse_args()
    if args.quick:
        args.minutes = 2.0
    timeout, max_bytes = 5.0, 1_000_000
    folder = Path(tempfile.mkdtemp(prefix="monitor-soak-"))
    farm = Farm(hosts=100, per_host=2, seed=args.seed, fault_rate=0.10, timeout=timeout, max_bytes=max_bytes).start()
    try:
        config = write_config(folder, farm, every=args.every, timeout=timeout, max_bytes=max_bytes)
        print(f"soak: {args.minutes:g} min in {folder}", file=sys.stderr, flush=True)
        run = run_service(config, folder / "run.log", args.minutes * 60, farm)
        farm.freeze()
        run.final_poll_rc = final_poll(config, folder / "poll.log")
        found = audit(config, farm, [folder / "run.log", folder / "poll.log"])
    finally:
        farm.stop()
    failed = report(args, farm, run, found)
    for problem in failed:
        print(f"FAIL: {problem}")
    if failed or args.keep:
        print(f"kept: {folder} (config.yaml, soak.db, run.log, poll.log, rss.csv, digests/)")
    else:
        shutil.rmtree(folder)
    print("soak: " + ("FAILED" if failed else "passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
