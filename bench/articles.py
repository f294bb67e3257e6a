"""Article extraction: pages per second on one core, and quality against the expected texts.

Run by hand: `python bench/articles.py [--pages 1000]`. Prints two tables.

Speed: the real article pages of ../shared/corpus/real/ (the ones with expected text in
tests/data/articles/: Japan Times, Economic Times, NHK, Reuters, Business Insider x2, Nikkei and the
two Shift_JIS/CP932 pages) are extracted in turn until --pages pages have been done, in this one
process (one core); the figure includes decoding and parsing. The issue's target is 100 pages a
second. Quality: per page, token recall and precision of the extracted text against the
hand-checked expected text (see tests/test_article.py for the format and the scoring).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.ingest.article import extract_article
from tests.test_article import TZ, load_cases, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000, help="pages to extract for the speed figure")
    args = parser.parse_args()
    cases = load_cases()

    real = [(case, case.body()) for case in cases if case.source.startswith("real/")]
    for case, body in real:  # warm up (imports, regex compilation)
        extract_article(body, url=case.name, content_type=case.content_type, tz=TZ)
    total_bytes = 0
    start = time.process_time()
    for i in range(args.pages):
        case, body = real[i % len(real)]
        extract_article(body, url=case.name, content_type=case.content_type, tz=TZ)
        total_bytes += len(body)
    elapsed = time.process_time() - start
    print(f"speed: {args.pages} pages ({len(real)} distinct real pages, {total_bytes / args.pages / 1024:.0f} KB "
          f"average) in {elapsed:.2f} s CPU: {args.pages / elapsed:.0f} pages/s, "
          f"{elapsed / args.pages * 1000:.2f} ms/page")
    print()
    print("| page | source | paragraphs | text chars | recall | precision |")
    print("|---|---|---:|---:|---:|---:|")
    recalls, precisions = [], []
    for case in cases:
        text = case.extract().text
        recall, precision = score(case, text)
        recalls.append(recall)
        precisions.append(precision)
        kind = "corpus" if case.source.startswith("real/") else "written"
        partial = " (opening)" if case.partial else ""
        print(f"| {case.name} | {kind}{partial} | {len(case.paragraphs)} | {len(text)} "
              f"| {recall:.3f} | {precision:.3f} |")
    print(f"| **mean of {len(cases)}** | | | | {sum(recalls) / len(recalls):.3f} "
          f"| {sum(precisions) / len(precisions):.3f} |")


if __name__ == "__main__":
    main()
