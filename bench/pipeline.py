"""Entries per second through parse, normalise, match and store, beside bare feedparser.

Run by hand: `python bench/pipeline.py [--entries 50000] [--topics 200]`. Prints a table.

The corpus is made from the real captured feeds in ../shared/corpus/real/: each feed is
repeated with every item's link and title made unique, until there are --entries items, so
every entry is new to the archive (the expensive path: identity, tokenising, matching all
topics, inserting rows, sightings, matches and the FTS index). Topics: the three shipped
ones plus generated queries over words and Japanese pairs taken from the same titles.
Each phase runs in a child process so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = Path(os.environ.get("MONITOR_CORPUS", ROOT.parent / "shared" / "corpus")) / "real"
FEEDS = [
    "www.japantimes.co.jp/feed.xml", "www.mof.go.jp/news.rss", "www.mod.go.jp/j__rss__news.xml",
    "www.mhlw.go.jp/stf__news.rdf", "www.kantei.go.jp/index-jnews.rdf", "www.digital.go.jp/rss__news.xml",
    "www.meti.go.jp/ml_index_release_atom.xml", "www.soumu.go.jp/news.rdf",
    "news.google.com/rss__search__q=Bears-Ears-monument__hl=en-US.xml", "www.spacedaily.com/spacedaily.xml",
]
TZ = ZoneInfo("Asia/Tokyo")


def make_documents(entries: int) -> list[tuple[str, bytes]]:
    """(name, bytes) feed documents holding `entries` items in all, every link and title unique."""
    templates = [(name, (CORPUS / name).read_bytes()) for name in FEEDS]
    docs: list[tuple[str, bytes]] = []
    made, copy = 0, 0
    item_pattern = re.compile(rb"<(item|entry)[\s>]")
    while made < entries:
        for name, body in templates:
            copy += 1
            tag = f"c{copy}".encode()
            unique = re.sub(rb"(<link[^>]*?>\s*(?:<!\[CDATA\[)?\s*[^<\]\s]+)", rb"\1?bench=" + tag, body)
            unique = re.sub(rb"(<link[^>]*href=\"https?://[^\"]+)\"", rb"\1?bench=" + tag + b'"', unique)
            unique = re.sub(rb"(rdf:about=\"https?://[^\"]+)\"", rb"\1?bench=" + tag + b'"', unique)
            unique = re.sub(rb"(<title>(?:<!\[CDATA\[)?)", rb"\1" + tag + b" ", unique)
            docs.append((f"{name}#{copy}", unique))
            made += len(item_pattern.findall(body))
            if made >= entries:
                break
    return docs


def make_topics(docs: list[tuple[str, bytes]], count: int, seed: int = 7) -> list[tuple[str, str]]:
    """The shipped topics plus generated ones over the corpus vocabulary."""
    from monitor.config import load

    shipped = [(t.name, t.query) for t in load(ROOT / "config.yaml").topics]
    text = b" ".join(re.findall(rb"<title>([^<]{3,200})</title>", b"".join(b for _, b in docs[:10]))).decode(
        "utf-8", "ignore")
    words = sorted({w for w in re.findall(r"[A-Za-z]{4,}", text)})
    pairs = sorted({m for m in re.findall(r"[\u4e00-\u9fff\u30a0-\u30ff]{2}", text)})
    rng = random.Random(seed)
    topics = list(shipped)
    while len(topics) < count:
        i = len(topics)
        a, b, c = rng.choice(words), rng.choice(pairs), rng.choice(words)
        shape = i % 4
        if shape == 0:
            query = f"{a} OR {b}"
        elif shape == 1:
            query = f'("{a} {c}" OR {b}*) -{rng.choice(words)}'
        elif shape == 2:
            query = f"({a} OR {c}) ({b} OR {rng.choice(pairs)})"
        else:
            query = f"title:{b} OR {a}*"
        topics.append((f"t{i}", query))
    return topics


def rss_kb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_feedparser(docs: list[tuple[str, bytes]], lean: bool) -> dict[str, float]:
    """Bare feedparser: its defaults, or (lean) without the HTML sanitising and relative-URI
    rewriting that the pipeline switches off (it keeps summaries as plain text)."""
    import feedparser

    options = {"sanitize_html": False, "resolve_relative_uris": False} if lean else {}
    start = time.perf_counter()
    items = sum(len(feedparser.parse(body, **options).entries) for _, body in docs)
    return {"items": items, "seconds": time.perf_counter() - start, "peak_mb": rss_kb()}


def phase_pipeline(docs: list[tuple[str, bytes]], topics: list[tuple[str, str]], db: Path) -> dict[str, float]:
    from monitor.core.query import parse
    from monitor.core.topics import TopicSet
    from monitor.ingest.feed import parse_feed
    from monitor.service.pipeline import Pipeline
    from monitor.store.archive import Archive, PollRecord
    from monitor.store.db import ensure_current, open_engine

    engine = open_engine(f"sqlite:///{db}")
    ensure_current(engine)
    archive = Archive(engine)
    names = [f"s{i}" for i in range(len(FEEDS))]
    ids = archive.sync_sources((n, f"https://example.com/{n}", "feed", "", "") for n in names)
    pipeline = Pipeline(archive, TopicSet([(n, parse(q)) for n, q in topics]))
    now = datetime(2025, 2, 3, tzinfo=UTC)
    start = time.perf_counter()
    new = matched = 0
    for k, (_, body) in enumerate(docs):
        parsed = parse_feed(body, url="https://example.com/feed", content_type="application/xml", tz=TZ)
        source = names[k % len(names)]
        done = pipeline.ingest(ids[source], source, parsed.drafts, now=now + timedelta(seconds=k),
                               record=PollRecord("ok"), skipped=parsed.skipped)
        new += done.new
        matched += done.matched
    seconds = time.perf_counter() - start
    engine.dispose()
    return {"items": new, "matched": matched, "seconds": seconds, "peak_mb": rss_kb(),
            "db_mb": db.stat().st_size / 1e6}


def child(args: argparse.Namespace) -> None:
    docs = make_documents(args.entries)
    if args.phase in ("feedparser", "feedparser-lean"):
        result = phase_feedparser(docs, lean=args.phase == "feedparser-lean")
    else:
        result = phase_pipeline(docs, make_topics(docs, args.topics), Path(args.db))
    print(json.dumps(result))


def run_child(phase: str, args: argparse.Namespace, db: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--phase", phase, "--entries", str(args.entries),
                          "--topics", str(args.topics), "--db", str(db)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=50_000)
    ap.add_argument("--topics", type=int, default=200)
    ap.add_argument("--phase", choices=["feedparser", "feedparser-lean", "pipeline"])
    ap.add_argument("--db")
    args = ap.parse_args()
    if args.phase:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        bare = run_child("feedparser", args, db)
        lean = run_child("feedparser-lean", args, db)
        full = run_child("pipeline", args, db)
    rows = [("bare feedparser.parse (defaults)", bare),
            ("bare feedparser.parse (pipeline's options)", lean),
            ("pipeline: parse+normalise+match+store+FTS", full)]
    print(f"{'phase':<46}{'items':>9}{'seconds':>9}{'items/s':>9}{'peak MB':>9}")
    for label, r in rows:
        print(f"{label:<46}{r['items']:>9.0f}{r['seconds']:>9.1f}{r['items'] / r['seconds']:>9.0f}"
              f"{r['peak_mb']:>9.0f}")
    full_rate = full["items"] / full["seconds"]
    print(f"topics: {args.topics}; matches stored: {full['matched']:.0f}; database: {full['db_mb']:.0f} MB")
    for label, r in rows[:2]:
        print(f"pipeline rate / {label}: {full_rate / (r['items'] / r['seconds']):.2f} (target >= 0.50)")


if __name__ == "__main__":
    main()
