"""The practice history at studio scale (issue 18), on SQLite and on PostgreSQL.

A store of STUDENTS students with TAKES takes each of one 300-note piece (default 200 x 50 = 10,000
takes, 3 million note results), filled with bulk inserts of generated rows (no audio: the timings are
of the database). Then, through the Store's own methods, median of REPEAT runs:
  - listing a student's takes (target < 50 ms);
  - per-bar progress of a piece over 100 takes (target < 200 ms);
  - comparing two takes (target < 50 ms);
  - importing 100 bundles of one take each (with its 0.5 s FLAC) into an empty store;
  - the store's size per take, audio excluded.

    .venv/bin/python benchmarks/bench_history.py [--students 200] [--takes 50] [--backend sqlite,postgresql]

PostgreSQL: a throwaway server started as in the tests (tests/pg.py).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musicdesk.history import models as m  # noqa: E402
from musicdesk.history.store import Store  # noqa: E402

NOTES = 300
NOTES_PER_BAR = 4
REPEAT = 7


def fill(store: Store, students: int, takes: int, seed: int = 0) -> tuple[list, uuid.UUID, list]:
    """Bulk rows: people, one piece, takes with one analysis each and NOTES note results."""
    rng = np.random.default_rng(seed)
    score = ROOT / "resources" / "scores" / "default_example_melody.musicxml"
    piece = store.piece(score, "Melody", "Bench piece")
    audio_sha = "0" * 64
    people = [uuid.uuid4() for _ in range(students)]
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    statuses = np.array(["correct", "wrong_pitch", "missed"])
    with store.engine.execution_options(write=True).begin() as c:
        c.execute(m.Blob.__table__.insert(), [{"sha256": audio_sha, "size_bytes": 0, "media_type": "audio/flac",
                                               "filename": "bench.flac"}])
        c.execute(m.Person.__table__.insert(), [{"id": p, "name": f"Student {i}", "role": "student", "created_at": t0}
                                                for i, p in enumerate(people)])
    take_ids = []
    for si, who in enumerate(people):
        trows, arows, nrows = [], [], []
        for k in range(takes):
            tid, aid = uuid.uuid4(), uuid.uuid4()
            when = t0 + dt.timedelta(days=k, minutes=si)
            take_ids.append(tid)
            trows.append({"id": tid, "student_id": who, "piece_id": piece, "assignment_id": None,
                          "audio_sha256": audio_sha, "recorded_at": when, "duration_s": 60.0, "sample_rate": 44100,
                          "device": "bench", "tempo_bpm": 100.0, "latency_ms": 40.0, "first_bar": None,
                          "last_bar": None, "app_version": "bench", "source_name": "bench.flac", "trashed_at": None})
            st = statuses[np.minimum(2, (rng.random(NOTES) < 0.1 + 0.1 * rng.random()) * (1 + (rng.random(NOTES) < 0.3)))]
            cents = rng.normal(0, 12, NOTES)
            terr = rng.normal(0, 40, NOTES)
            arows.append({"id": aid, "take_id": tid, "created_at": when, "app_version": "bench", "tracker": "fastpyin",
                          "n_notes": NOTES, "n_correct": int((st == "correct").sum()),
                          "note_accuracy": float((st == "correct").mean()), "rhythmic_accuracy": 0.9,
                          "intonation": 0.9, "network_model": "SIConvNet-Delta", "network_version": "bench",
                          "network_ratings": {"pitch": 0.8, "rhythm": 0.7, "intonation": 0.9},
                          "network_embedding": None,
                          "report": {"summary": {"n_notes": NOTES}, "ratings": {}, "extra_notes": [], "warnings": [],
                                     "remarks": []}})
            for i in range(NOTES):
                ok = st[i] != "missed"
                nrows.append({"analysis_id": aid, "note_id": f"p0m{i // NOTES_PER_BAR}n{i % NOTES_PER_BAR}",
                              "index": i, "bar": i // NOTES_PER_BAR, "beat": float(1 + i % NOTES_PER_BAR),
                              "expected_midi": 60 + i % 12, "status": str(st[i]),
                              "timing": "on_time" if abs(terr[i]) < 50 else ("early" if terr[i] < 0 else "late"),
                              "intonation": "in_tune", "played_midi": 60.0 + i % 12 if ok else None,
                              "cents": float(cents[i]) if ok else None, "intonation_cents": float(cents[i]) if ok else None,
                              "timing_error_ms": float(terr[i]) if ok else None, "onset_s": 0.2 * i if ok else None,
                              "offset_s": 0.2 * i + 0.18 if ok else None, "expected_name": "C4", "played_name": "C4",
                              "expected_concert_name": "C4", "played_concert_name": "C4"})
        with store.engine.execution_options(write=True).begin() as c:
            c.execute(m.Take.__table__.insert(), trows)
            c.execute(m.Analysis.__table__.insert(), arows)
            c.execute(m.NoteResult.__table__.insert(), nrows)
    return people, piece, take_ids


def timed(fn, repeat: int = REPEAT) -> float:
    fn()                                            # a first call fills caches
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def db_bytes(store: Store, url: str) -> int:
    from musicdesk.history.db import sqlite_path

    p = sqlite_path(store.url)
    if p is not None:
        with store.engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(f.stat().st_size for f in p.parent.glob(p.name + "*"))
    with store.engine.connect() as c:
        return int(c.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())


def bench_bundles(url_for_import: str, tmp: Path, n: int = 100) -> float:
    """Export n one-take bundles from a small store, then import all of them into the store at the URL."""
    import soundfile as sf

    from musicdesk.history.bundle import export_bundle, import_bundle
    from tests.test_history_store import record

    src = Store(tmp / "src" / "h.sqlite3")
    anna, piece = src.person("Anna"), src.piece(ROOT / "resources" / "scores" / "default_example_melody.musicxml",
                                                "Melody")
    bundles = []
    for i in range(n):
        wav = tmp / f"t{i}.wav"
        sf.write(wav, (0.2 * np.sin(2 * np.pi * (200 + i) * np.arange(22050) / 44100)).astype(np.float32), 44100)
        take = src.save_take(anna, piece, wav, record=record(NOTES))
        bundles.append(export_bundle(src, tmp / f"b{i}.zip", [take]))
    src.close()
    dst = Store(url_for_import, files_dir=tmp / "dst-files")
    t = time.perf_counter()
    for b in bundles:
        import_bundle(dst, b)
    total = time.perf_counter() - t
    assert len(dst.takes()) == n
    dst.close()
    return total


def run(backend: str, students: int, takes: int, tmp: Path, pg) -> dict:
    url = str(tmp / "big" / "h.sqlite3") if backend == "sqlite" else pg.new_database()
    store = Store(url, files_dir=tmp / f"files-{backend}")
    t = time.perf_counter()
    people, piece, take_ids = fill(store, students, takes)
    fill_s = time.perf_counter() - t
    if backend == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
    else:
        with store.engine.connect() as c:
            c.exec_driver_sql("ANALYZE")
    who = people[len(people) // 2]
    res = {"backend": backend, "takes": len(take_ids), "notes": len(take_ids) * NOTES, "fill_s": fill_s}
    res["list_ms"] = 1000 * timed(lambda: store.takes(student=who))
    # per-bar progress over 100 takes: a student with 100 takes of the piece (the store's others have TAKES)
    extra = Store(url, files_dir=tmp / f"files-{backend}")
    hundred = people[0]
    if takes < 100:
        # give one student 100 takes by moving another student's takes to them
        with extra.engine.execution_options(write=True).begin() as c:
            from sqlalchemy import update

            c.execute(update(m.Take).where(m.Take.student_id == people[1]).values(student_id=hundred))
    extra.close()
    n100 = len(store.takes(student=hundred))
    res["progress_takes"] = n100
    res["progress_ms"] = 1000 * timed(lambda: store.progress(hundred, piece))
    a, b = store.takes(student=who)[:2]
    res["compare_ms"] = 1000 * timed(lambda: store.compare(a.id, b.id))
    res["bytes_per_take"] = db_bytes(store, url) / len(take_ids)
    store.close()
    imp_url = str(tmp / "imp" / "h.sqlite3") if backend == "sqlite" else pg.new_database()
    res["import_100_s"] = bench_bundles(imp_url, tmp / f"bundles-{backend}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--takes", type=int, default=50)
    ap.add_argument("--backend", default="sqlite,postgresql")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-history-"))
    pg = None
    try:
        backends = args.backend.split(",")
        if "postgresql" in backends:
            from tests.pg import PostgresServer

            pg = PostgresServer()
        for be in backends:
            r = run(be, args.students, args.takes, tmp, pg)
            print(f"{be}: {r['takes']} takes, {r['notes']} note results, filled in {r['fill_s']:.0f} s")
            print(f"  list a student's takes ({args.takes}): {r['list_ms']:.1f} ms (target < 50)")
            print(f"  per-bar progress over {r['progress_takes']} takes: {r['progress_ms']:.1f} ms (target < 200)")
            print(f"  compare two takes: {r['compare_ms']:.1f} ms (target < 50)")
            print(f"  import 100 one-take bundles: {r['import_100_s']:.1f} s ({10 * r['import_100_s']:.0f} ms each)")
            print(f"  store size per take, audio excluded: {r['bytes_per_take'] / 1024:.1f} KiB")
            sys.stdout.flush()
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
