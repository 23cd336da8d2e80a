"""The history store (issue 18): takes, analyses, grades and comments on SQLite and on a real PostgreSQL
server; SQLite's settings; migrations from the first schema; a newer store refused for writing; two
writers at once; a process killed mid-write; a full disk."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicdesk.history import HistoryError
from musicdesk.history.db import head_revision, resolve_url
from musicdesk.history.store import Store

ROOT = Path(__file__).resolve().parents[1]
SCORE = ROOT / "resources" / "scores" / "default_example_melody.musicxml"
FIXTURE = Path(__file__).with_name("fixtures") / "history-0001"


def tone_file(path: Path, seconds: float = 1.0, hz: float = 440.0, sr: int = 16000) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), sr, subtype="PCM_16")
    return path


def noise_file(path: Path, seconds: float, seed: int, sr: int = 16000) -> Path:
    """A take FLAC cannot shrink much (white noise): for filling a small disk."""
    x = np.random.default_rng(seed).uniform(-0.5, 0.5, int(seconds * sr)).astype(np.float32)
    sf.write(path, x, sr, subtype="PCM_16")
    return path


def record(n_notes: int = 8, wrong: tuple[int, ...] = (), cents: float = 3.0, late_ms: dict | None = None,
           network: dict | None = None) -> dict:
    """An analysis record as records.analysis_record makes one, with chosen results (2 notes a bar)."""
    late_ms = late_ms or {}
    notes = []
    for i in range(n_notes):
        status = "wrong_pitch" if i in wrong else "correct"
        t_err = late_ms.get(i, 0.0)
        notes.append({"id": f"n{i}", "index": i, "measure": 1 + i // 2, "beat": 1.0 + 2 * (i % 2),
                      "expected_midi": 60 + i, "status": status, "played_midi": 60 + i + (1 if status != "correct" else 0),
                      "cents": cents, "onset_s": 0.5 * i, "offset_s": 0.5 * i + 0.4, "timing_error_ms": t_err,
                      "intonation": "in_tune" if status == "correct" else None,
                      "timing": "late" if t_err > 60 else "on_time", "intonation_cents": cents,
                      "expected_name": f"N{i}", "played_name": f"N{i}", "expected_concert_name": f"N{i}",
                      "played_concert_name": f"N{i}"})
    right = n_notes - len(wrong)
    rep = {"notes": notes, "extra_notes": [], "summary": {"n_notes": n_notes, "n_correct": right},
           "ratings": {"note_accuracy": right / n_notes, "rhythmic_accuracy": 0.9, "intonation": 0.95},
           "warnings": [], "remarks": []}
    return {"app_version": "test", "tracker": "fastpyin", "report": rep, "network_model": "SIConvNet-Delta" if network else None,
            "network_version": "1" if network else None, "network_ratings": network,
            "network_embedding": [0.1, 0.2] if network else None}


@pytest.fixture
def store(store_url, tmp_path):
    s = Store(store_url, files_dir=tmp_path / "files")
    yield s
    s.close()


def test_the_migrations_make_the_schema_the_models_describe(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from musicdesk.history.models import Base

    assert store.revision == head_revision()
    with store.engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_with_foreign_keys_on_every_connection(tmp_path):
    s = Store(tmp_path / "h.sqlite3")
    conns = [s.engine.connect() for _ in range(3)]        # three pooled connections, each set up
    try:
        for c in conns:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        for c in conns:
            c.close()


def test_a_take_its_analysis_and_its_report_come_back(store, tmp_path):
    anna = store.person("Anna")
    assert store.person("Anna") == anna                            # found, not made twice
    piece = store.piece(SCORE, "Melody", "Zwei Koenigskinder")
    assert store.piece(SCORE, "Melody") == piece                  # by content: the same piece
    wav = tone_file(tmp_path / "take.wav", 2.0)
    rec = record(wrong=(3,), network={"pitch": 0.8, "rhythm": 0.7})
    when = dt.datetime(2026, 11, 2, 16, 30, tzinfo=dt.timezone.utc)
    take = store.save_take(anna, piece, wav, record=rec, recorded_at=when, device="USB mic", tempo_bpm=90,
                           latency_ms=44.0)
    [row] = store.takes(student=anna)
    assert row.id == take and row.recorded_at == when and abs(row.duration_s - 2.0) < 1e-6
    assert (row.n_notes, row.n_correct) == (8, 7) and row.network == {"pitch": 0.8, "rhythm": 0.7}
    assert store.report(take)["notes"] == rec["report"]["notes"]   # every field, as the JSON had it
    d = store.take(take)
    assert d["take"].device == "USB mic" and d["take"].latency_ms == 44.0 and d["take"].sample_rate == 16000
    assert d["analyses"][0].network_model == "SIConvNet-Delta"
    flac = store.audio(take)
    x, sr = sf.read(__import__("io").BytesIO(flac))
    y, _ = sf.read(wav)
    assert sr == 16000 and np.array_equal(x, y)                   # FLAC: lossless
    # the same file again is the same take, and the same analysis adds nothing
    assert store.save_take(anna, piece, wav, record=rec) == take
    assert len(store.take(take)["analyses"]) == 1
    # a re-analysis adds an analysis and keeps the old one; the newest is the take's
    rec2 = record(wrong=())
    store.add_analysis(take, rec2)
    d = store.take(take)
    assert len(d["analyses"]) == 2 and d["analyses"][0].n_correct == 7 and d["analyses"][1].n_correct == 8
    assert store.takes()[0].n_correct == 8
    assert store.practice(anna) == [(when.astimezone().date().isoformat(), pytest.approx(2.0))]


def test_grades_and_comments_are_added_never_overwritten(store, tmp_path):
    anna, teacher = store.person("Anna"), store.person("Ms Lee", "teacher")
    piece = store.piece(SCORE, "Melody")
    take = store.save_take(anna, piece, tone_file(tmp_path / "t.wav"), record=record())
    g1 = store.grade(take, teacher, "pitch", 6, 10)
    store.grade(take, teacher, "pitch", 8, 10)                     # an edit
    store.grade(take, teacher, "rhythm", 4, 5)
    assert store.takes()[0].grades == {"pitch": (8.0, 10.0, "draft"), "rhythm": (4.0, 5.0, "draft")}
    assert store.release_grades(take, teacher) == 2
    assert store.takes()[0].grades == {"pitch": (8.0, 10.0, "released"), "rhythm": (4.0, 5.0, "released")}
    grades = store.take(take)["grades"]
    assert len(grades) == 5 and grades[0].id == g1 and grades[0].value == 6   # the history stays
    c = store.comment(take, teacher, "this F# again", note_ids=["n3"])
    store.comment(take, teacher, "this F# again, and listen to the A", note_ids=["n3"], supersedes=c)
    store.comment(take, teacher, "bars 2-3 rush", bars=(2, 3))
    store.comment(take, teacher, "the breath here", times_s=(1.0, 1.5))
    comments = store.take(take)["comments"]
    assert [x.note_ids for x in comments] == [["n3"], ["n3"], [], []]
    assert comments[1].supersedes_id == c and (comments[2].first_bar, comments[2].last_bar) == (2, 3)
    with pytest.raises(HistoryError, match="no note 'n99'"):
        store.comment(take, teacher, "?", note_ids=["n99"])
    with pytest.raises(HistoryError, match="between 0 and"):
        store.grade(take, teacher, "pitch", 11, 10)


def test_trash_restores_and_empties_with_the_files(store, tmp_path):
    anna = store.person("Anna")
    piece = store.piece(SCORE, "Melody")
    take = store.save_take(anna, piece, tone_file(tmp_path / "t.wav"), record=record())
    teacher = store.person("T", "teacher")
    store.grade(take, teacher, "pitch", 5, 10)
    store.grade(take, teacher, "pitch", 6, 10)
    store.comment(take, teacher, "hm")
    sha = store.take(take)["take"].audio_sha256
    store.trash(take)
    assert store.takes() == [] and [t.id for t in store.takes(trashed=True)] == [take]
    store.restore(take)
    assert [t.id for t in store.takes()] == [take]
    store.trash(take)
    assert store.empty_trash() == 1
    assert store.takes(trashed=True) == [] and not store.files.has(sha)
    assert store.integrity_problems() == []


def test_progress_per_bar_and_comparing_two_takes(store, tmp_path):
    anna = store.person("Anna")
    piece = store.piece(SCORE, "Melody")
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    first = store.save_take(anna, piece, tone_file(tmp_path / "a.wav", hz=440), recorded_at=t0,
                            record=record(wrong=(2, 3), late_ms={5: 150.0}))
    second = store.save_take(anna, piece, tone_file(tmp_path / "b.wav", hz=441), recorded_at=t0 + dt.timedelta(days=7),
                             record=record(wrong=(6,)))
    p = store.progress(anna, piece)
    assert [t.id for t in p.takes] == [first, second] and p.bars == [1, 2, 3, 4]
    assert p.per_take[0][2].right_share == 0.0 and p.per_take[1][2].right_share == 1.0
    assert p.per_take[0][3].timing_spread_ms == pytest.approx(75.0) and p.per_take[1][4].right_share == 0.5
    c = store.compare(first, second)
    assert sorted(x.note_id for x in c.improved) == ["n2", "n3", "n5"]
    assert [x.note_id for x in c.worse] == ["n6"]
    assert c.improved[0].a.startswith("wrong note") and c.improved[0].b == "right"
    # a re-analysis of the first take replaces its bars (the old analysis stays, but is not counted);
    # another student's take of the piece, and a take with no analysis, are not mixed in
    store.add_analysis(first, record())
    ben = store.person("Ben")
    store.save_take(ben, piece, tone_file(tmp_path / "c.wav", hz=442), record=record(wrong=(0, 1, 2, 3)))
    bare = store.save_take(anna, piece, tone_file(tmp_path / "d.wav", hz=443), recorded_at=t0 + dt.timedelta(days=9))
    p = store.progress(anna, piece)
    assert [t.id for t in p.takes] == [first, second, bare] and p.per_take[2] == {}
    assert all(b.right_share == 1.0 for b in p.per_take[0].values()) and p.per_take[1][2].right_share == 1.0
    assert p.per_take[0][1].n_notes == 2


def test_a_store_made_by_the_first_schema_upgrades_and_keeps_its_rows(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "h")
    s = Store(tmp_path / "h" / "history.sqlite3")
    assert s.revision == head_revision() != "0001"
    [t] = s.takes()
    assert t.student == "Fixture Student" and t.n_correct == 4 and t.grades == {"pitch": (7.0, 10.0, "released")}
    assert s.take(t.id)["comments"][0].note_ids == ["n2"]
    assert s.integrity_problems() == []
    s.trash(t.id)                                                  # the column the second schema added
    assert s.takes(trashed=True)[0].id == t.id


def test_a_store_from_a_newer_musicdesk_is_read_but_not_written(store_url, tmp_path):
    s = Store(store_url, files_dir=tmp_path / "f")
    anna = s.person("Anna")
    with s.engine.begin() as c:
        c.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    s.close()
    s = Store(store_url, files_dir=tmp_path / "f")
    assert s.readonly and [p.name for p in s.people()] == ["Anna"]
    with pytest.raises(HistoryError, match="newer musicdesk.*update musicdesk"):
        s.person("Ben")
    with pytest.raises(HistoryError, match="newer"):
        s.comment(uuid.uuid4(), anna, "x")
    s.close()


WRITER = """
import sys, uuid
from musicdesk.history.store import Store
s = Store(sys.argv[1])
take, who = uuid.UUID(sys.argv[2]), s.person(sys.argv[3], "teacher")
for i in range(int(sys.argv[4])):
    s.grade(take, who, "pitch", i % 10, 10)
    s.comment(take, who, f"comment {i}")
print("ok")
"""


def test_two_processes_writing_at_once_never_see_a_locked_database(tmp_path):
    """The window and the command line at the same time: each writer waits its turn."""
    db = tmp_path / "h.sqlite3"
    s = Store(db)
    take = s.save_take(s.person("Anna"), s.piece(SCORE, "Melody"), tone_file(tmp_path / "t.wav"), record=record())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(take), f"T{k}", "60"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(3)]
    with s.engine.connect() as c, c.begin():                       # a reader holding a snapshot meanwhile
        c.exec_driver_sql("SELECT count(*) FROM grade").all()
        time.sleep(0.5)
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-500:] for o in outs]
    d = s.take(take)
    assert len(d["grades"]) == 180 and len(d["comments"]) == 180


KILLED = """
import sys
from musicdesk.history.store import Store
from musicdesk.history.bundle import import_bundle
s = Store(sys.argv[1])
print("importing", flush=True)
import_bundle(s, sys.argv[2])
print("done", flush=True)
"""


def test_a_process_killed_mid_import_leaves_the_store_consistent(tmp_path):
    """SIGKILL at several points of an import (its duration measured first): each time the store is
    consistent, holds all of the bundle or none of it, and keeps what was saved before."""
    from musicdesk.history.bundle import export_bundle, import_bundle

    src = Store(tmp_path / "src.sqlite3", files_dir=tmp_path / "src-files")
    anna, piece = src.person("Anna"), src.piece(SCORE, "Melody")
    big = [src.save_take(anna, piece, tone_file(tmp_path / f"t{i}.wav", 20.0, 300 + i), record=record(300))
           for i in range(20)]
    bundle = export_bundle(src, tmp_path / "b.zip", big)
    base = tmp_path / "base"
    dst = Store(base / "h.sqlite3")
    kept = dst.save_take(dst.person("Ben"), dst.piece(SCORE, "Melody"), tone_file(tmp_path / "k.wav"), record=record())
    dst.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start(folder: Path):
        shutil.copytree(base, folder)
        p = subprocess.Popen([sys.executable, "-c", KILLED, str(folder / "h.sqlite3"), str(bundle)], env=env,
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "importing"
        return p

    t = time.perf_counter()
    p = start(tmp_path / "timed")
    assert p.stdout.readline().strip() == "done"
    import_s = time.perf_counter() - t
    p.wait()
    outcomes = []
    for k, share in enumerate((0.05, 0.2, 0.4, 0.6, 0.8, 0.95)):
        folder = tmp_path / f"kill{k}"
        p = start(folder)
        time.sleep(share * import_s)
        p.kill()                                                    # SIGKILL
        p.wait()
        check = Store(folder / "h.sqlite3")
        assert check.integrity_problems() == [], share
        ids = {t.id for t in check.takes()}
        assert len(ids) in (1, 21), (share, len(ids))                # all of the bundle, or none of it
        assert kept in ids                                          # nothing saved before is lost
        outcomes.append(len(ids))
        import_bundle(check, bundle)                                # and the import can be done (again)
        assert len(check.takes()) == 21 and check.integrity_problems() == []
        check.close()
    assert 1 in outcomes, (import_s, outcomes)                      # some kills did land mid-import


def _small_disk(path: Path, size_kib: int) -> bool:
    """A real tmpfs of `size_kib` at `path` (root only); False where mounting is not allowed."""
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def test_a_full_disk_during_an_import_says_so_and_changes_nothing(tmp_path, monkeypatch):
    from musicdesk.history.bundle import export_bundle, import_bundle

    src = Store(tmp_path / "src.sqlite3", files_dir=tmp_path / "src-files")
    anna, piece = src.person("Anna"), src.piece(SCORE, "Melody")
    takes = [src.save_take(anna, piece, noise_file(tmp_path / f"t{i}.wav", 10.0, i), record=record())
             for i in range(4)]                                     # 4 x 0.3 MB of FLAC: more than the disk holds
    bundle = export_bundle(src, tmp_path / "b.zip", takes)
    disk = tmp_path / "disk"
    real = _small_disk(disk, 1024)
    if not real:     # not root: the same OSError the kernel raises, from the file store's write
        disk.mkdir(exist_ok=True)
        import errno

        from musicdesk.history import files

        orig = files.FileStore.put_bytes

        def full(self, data, sha256=None):
            if len(data) > 200_000:
                raise HistoryError(files.disk_message(OSError(errno.ENOSPC, "No space left on device"), "a file"))
            return orig(self, data, sha256)

        monkeypatch.setattr(files.FileStore, "put_bytes", full)
    dst = None
    try:
        dst = Store(disk / "h.sqlite3")
        kept = dst.save_take(dst.person("Ben"), dst.piece(SCORE, "Melody"), tone_file(tmp_path / "k.wav", 0.5),
                             record=record())
        before = sorted(p.name for p in (disk / "files").rglob("*") if p.is_file())
        with pytest.raises(HistoryError, match="disk is full.*Nothing was changed"):
            import_bundle(dst, bundle)
        assert [t.id for t in dst.takes()] == [kept] and dst.integrity_problems() == []
        assert sorted(p.name for p in (disk / "files").rglob("*") if p.is_file()) == before
    finally:
        if dst is not None:
            dst.close()
        if real:
            subprocess.run(["umount", "-l", str(disk)])


def test_an_sqlite_file_on_a_network_share_is_refused(tmp_path, monkeypatch):
    from musicdesk.history import db

    monkeypatch.setattr(db, "filesystem_type", lambda path: "nfs4")   # no NFS server here to mount
    with pytest.raises(HistoryError, match="network share.*PostgreSQL"):
        Store(tmp_path / "h.sqlite3")


def test_the_url_comes_from_the_argument_the_environment_or_the_user_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICDESK_DB", str(tmp_path / "env.sqlite3"))
    assert resolve_url(None) == "sqlite:///" + str(tmp_path / "env.sqlite3")
    assert resolve_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.delenv("MUSICDESK_DB")
    assert resolve_url(None).endswith(os.path.join("history", "history.sqlite3"))


def test_a_file_that_is_not_a_store_gets_a_message(tmp_path):
    bad = tmp_path / "h.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryError, match="not a readable musicdesk history store"):
        Store(bad)
