"""Assemble benchmarks/RESULTS.md from the sections each benchmark writes to benchmarks/results/*.md.

    .venv/bin/python benchmarks/make_results.py
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["pitch", "align", "analyze", "live_gui", "live_core", "score"]  # sections in this order, then any others alphabetically

HEADER = """# Benchmark results

Latest figures of every benchmark in `benchmarks/`, each with the command that produced it, the
machine and the date. Real recordings come from `../shared/data/` (Bach10: Duan, Pardo & Zhang 2010;
Duan & Pardo 2011) and are used only to measure, never to train or tune. Re-run a benchmark, then
this script, to refresh the page.
"""


def main() -> None:
    parts = sorted((HERE / "results").glob("*.md"))
    rank = {name: i for i, name in enumerate(ORDER)}
    parts.sort(key=lambda p: (rank.get(p.stem, len(rank)), p.stem))
    body = [HEADER]
    body += [p.read_text().strip() + "\n" for p in parts]
    (HERE / "RESULTS.md").write_text("\n".join(body))
    print(f"wrote {HERE / 'RESULTS.md'} from {len(parts)} sections")


if __name__ == "__main__":
    main()
