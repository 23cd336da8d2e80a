"""Bundles (issue 18): student to teacher and back on both backends, idempotent imports, and every
hostile bundle refused with a message that says why, the store unchanged."""
from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pytest

from musicdesk.history import HistoryError
from musicdesk.history.bundle import BundleError, export_bundle, import_bundle
from musicdesk.history.store import Store
from tests.test_history_store import SCORE, record, tone_file


@pytest.fixture
def student(tmp_path):
    s = Store(tmp_path / "student" / "h.sqlite3")
    yield s
    s.close()


def takes_of(store: Store, tmp_path: Path, n: int = 2):
    anna, piece = store.person("Anna"), store.piece(SCORE, "Melody", "Zwei Koenigskinder")
    return [store.save_take(anna, piece, tone_file(tmp_path / f"t{i}.wav", 1.0, 300 + 50 * i),
                            record=record(wrong=(i,))) for i in range(n)]


def test_takes_go_to_the_teacher_and_feedback_comes_back(student, store_url, tmp_path):
    takes = takes_of(student, tmp_path)
    sub = export_bundle(student, tmp_path / "submission.zip", takes, kind="submission")
    teacher = Store(store_url, files_dir=tmp_path / "teacher-files")        # SQLite or PostgreSQL
    r = import_bundle(teacher, sub)
    assert r.kind == "submission" and r.added["takes"] == 2 and r.added["notes"] == 16 and r.files_added == 3
    again = import_bundle(teacher, sub)
    assert not again.anything_new                                            # idempotent
    assert {t.id for t in teacher.takes()} == set(takes)
    assert teacher.audio(takes[0]) == student.audio(takes[0])
    assert teacher.report(takes[1])["notes"] == student.report(takes[1])["notes"]
    me = teacher.person("Ms Lee", "teacher")
    teacher.grade(takes[0], me, "pitch", 7, 10, released=True)
    teacher.comment(takes[0], me, "this note again", note_ids=["n0"])
    fb = export_bundle(teacher, tmp_path / "feedback.zip", takes, kind="feedback")
    with zipfile.ZipFile(fb) as z:
        assert not any(n.startswith("files/") for n in z.namelist())        # feedback carries no audio
    r = import_bundle(student, fb)
    assert r.added["grades"] == 1 and r.added["comments"] == 1 and r.added["people"] == 1
    assert not import_bundle(student, fb).anything_new
    d = student.take(takes[0])
    assert d["comments"][0].note_ids == ["n0"] and d["names"][d["comments"][0].author_id] == "Ms Lee"
    assert student.takes()[-1].grades == {"pitch": (7.0, 10.0, "released")}
    teacher.close()


def test_feedback_on_takes_the_store_does_not_have_is_refused(student, tmp_path):
    takes = takes_of(student, tmp_path, 1)
    me = student.person("Ms Lee", "teacher")
    student.comment(takes[0], me, "hm")
    fb = export_bundle(student, tmp_path / "fb.zip", takes, kind="feedback")
    other = Store(tmp_path / "other.sqlite3")
    with pytest.raises(BundleError, match="not in this history store.*Nothing was imported"):
        import_bundle(other, fb)
    assert other.people() == []


def test_a_backup_restores_everything_into_an_empty_store(student, tmp_path):
    takes = takes_of(student, tmp_path, 3)
    student.trash(takes[2])
    b = student.backup(tmp_path / "backup.zip")
    fresh = Store(tmp_path / "fresh.sqlite3")
    import_bundle(fresh, b)
    assert {t.id for t in fresh.takes()} == set(takes[:2]) and [t.id for t in fresh.takes(trashed=True)] == [takes[2]]
    assert fresh.integrity_problems() == []


# ---------------------------------------------------------------------- hostile bundles
def good_bundle(student: Store, tmp_path: Path) -> Path:
    return export_bundle(student, tmp_path / "good.zip", takes_of(student, tmp_path, 1))


def rewrite(src: Path, dest: Path, change) -> Path:
    """A copy of bundle `src` with its members passed through change(name, data) -> [(ZipInfo|name, data)]."""
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            for name, data in change(info.filename, z.read(info)):
                out.writestr(name, data)
    return dest


def manifest_edit(edit):
    def change(name, data):
        if name == "manifest.json":
            m = json.loads(data)
            edit(m)
            data = json.dumps(m).encode()
        return [(name, data)]
    return change


def refused(tmp_path: Path, bundle: Path, match: str) -> None:
    victim = Store(tmp_path / "victim.sqlite3")
    with pytest.raises(BundleError, match=match):
        import_bundle(victim, bundle)
    assert victim.people() == [] and victim.takes() == []
    assert not (tmp_path / "files").exists() or not any((tmp_path / "files").rglob("*"))
    victim.close()


def with_extra_member(info, data: bytes, listed: bool = True):
    """change(): add a member (and, when `listed`, its entry in the manifest with the right checksum)."""
    import hashlib

    def change(name, body):
        if name == "manifest.json" and listed:
            m = json.loads(body)
            m["files"][info if isinstance(info, str) else info.filename] = {
                "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            body = json.dumps(m).encode()
        out = [(name, body)]
        if name == "manifest.json":
            out.append((info, data))
        return out
    return change


@pytest.mark.parametrize("member,match", [("/etc/passwd", "absolute path"), ("files/../../evil", r"outside the bundle \(\.\.\)"),
                                          ("C:/evil", "absolute path"), ("files\\..\\evil", "absolute path")])
def test_unsafe_member_names_are_refused(student, tmp_path, member, match):
    b = rewrite(good_bundle(student, tmp_path), tmp_path / "bad.zip", with_extra_member(member, b"x"))
    refused(tmp_path, b, match)


def test_a_symbolic_link_is_refused(student, tmp_path):
    info = zipfile.ZipInfo("files/link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    b = rewrite(good_bundle(student, tmp_path), tmp_path / "bad.zip", with_extra_member(info, b"/etc/passwd"))
    refused(tmp_path, b, "symbolic link")


def test_a_zip_bomb_is_refused(student, tmp_path):
    b = rewrite(good_bundle(student, tmp_path), tmp_path / "bad.zip",
                with_extra_member("files/bomb", b"\0" * (64 << 20)))        # 64 MiB of zeros, 64 KiB compressed
    assert b.stat().st_size < (1 << 20)
    refused(tmp_path, b, "zip bomb")


def test_a_member_over_the_size_limit_is_refused(student, tmp_path, monkeypatch):
    from musicdesk.history import bundle

    monkeypatch.setattr(bundle, "MAX_MEMBER_BYTES", 10_000)               # the limit, lowered to test it quickly
    refused(tmp_path, good_bundle(student, tmp_path), r"KiB \(at most 9.8 KiB\)")


def test_a_header_that_lies_about_a_members_size_is_refused(student, tmp_path):
    good = good_bundle(student, tmp_path)
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("data.json")
    # shrink the declared size in the central directory: the member then holds more than it says
    pos, patched = data.find(b"PK\x01\x02"), False
    while pos >= 0:
        n = int.from_bytes(data[pos + 28:pos + 30], "little")
        if data[pos + 46:pos + 46 + n] == b"data.json":
            data[pos + 24:pos + 28] = (info.file_size // 2).to_bytes(4, "little")
            patched = True
        pos = data.find(b"PK\x01\x02", pos + 4)
    assert patched
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    refused(tmp_path, bad, "more than its header says|damaged")


def test_a_checksum_mismatch_is_refused(student, tmp_path):
    def change(name, data):
        if name.startswith("files/") and name.endswith(".flac"):
            data = data[:-10] + b"0123456789"
        return [(name, data)]
    refused(tmp_path, rewrite(good_bundle(student, tmp_path), tmp_path / "bad.zip", change),
            "checksum of 'files/.*' does not match")


def test_a_bundle_from_a_newer_schema_or_format_is_refused(student, tmp_path):
    good = good_bundle(student, tmp_path)
    refused(tmp_path, rewrite(good, tmp_path / "s.zip", manifest_edit(lambda m: m.update(schema="0099"))),
            "newer musicdesk .schema 0099")
    refused(tmp_path, rewrite(good, tmp_path / "f.zip", manifest_edit(lambda m: m.update(format_version=7))),
            "newer musicdesk .bundle format 7")


def test_other_damage_is_refused_with_its_reason(student, tmp_path):
    good = good_bundle(student, tmp_path)
    (tmp_path / "not.zip").write_bytes(b"hello")
    refused(tmp_path, tmp_path / "not.zip", "not a zip file")
    refused(tmp_path, rewrite(good, tmp_path / "nm.zip", lambda n, d: [] if n == "manifest.json" else [(n, d)]),
            "no manifest.json")
    refused(tmp_path, rewrite(good, tmp_path / "x.zip", with_extra_member("files/extra", b"x", listed=False)),
            "not in its manifest")
    refused(tmp_path, rewrite(good, tmp_path / "d.zip", lambda n, d: [(n, b"{" if n == "data.json" else d)]),
            "checksum of 'data.json'")

    import hashlib

    def corrupt_data(name, data):
        if name == "data.json":
            d = json.loads(data)
            d["takes"][0]["duration_s"] = "long"
            data = json.dumps(d).encode()
        return [(name, data)]

    b = rewrite(good, tmp_path / "r.zip", corrupt_data)
    body = zipfile.ZipFile(b).read("data.json")
    b2 = rewrite(b, tmp_path / "r2.zip", manifest_edit(lambda m: m["files"]["data.json"].update(
        sha256=hashlib.sha256(body).hexdigest())))
    refused(tmp_path, b2, r"damaged: take.duration_s is not a number")


def test_a_full_disk_while_exporting_leaves_no_half_bundle(student, tmp_path, monkeypatch):
    import errno
    import zipfile as zf

    takes = takes_of(student, tmp_path, 1)

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zf.ZipFile, "writestr", full)
    with pytest.raises(HistoryError, match="disk is full"):
        export_bundle(student, tmp_path / "out.zip", takes)
    assert not any(p.name.startswith(".out.zip") or p.name == "out.zip" for p in tmp_path.iterdir())


def test_an_assignment_and_its_submission_travel_on_both_backends(student, store_url, tmp_path):
    """The teacher's store (SQLite or PostgreSQL) makes an assignment; the student imports it with its
    score, records for it and submits; the teacher finds the takes under the assignment."""
    teacher = Store(store_url, files_dir=tmp_path / "teacher-files")
    me, piece = teacher.person("Ms Lee", "teacher"), teacher.piece(SCORE, "Melody", "Zwei Koenigskinder")
    aid = teacher.assign(me, piece, "Bars 1-4 slowly", bars=(1, 4), tempo_bpm=72, criteria=["pitch", "tone"],
                         scale_max=4, instructions="Breathe at bar 4.")
    bundle = export_bundle(teacher, tmp_path / "assignment.zip", kind="assignment", assignment_ids=[aid])
    r = import_bundle(student, bundle)
    assert r.kind == "assignment" and r.added["assignments"] == 1 and r.added["pieces"] == 1
    assert not import_bundle(student, bundle).anything_new
    [a] = student.assignments()
    assert (a.id, a.first_bar, a.last_bar, a.tempo_bpm, a.criteria, a.scale_max) == (aid, 1, 4, 72.0, ["pitch", "tone"], 4.0)
    score = student.score_file(a.piece_id, tmp_path / "opened")
    assert score.read_bytes() == SCORE.read_bytes()
    takes = takes_of(student, tmp_path)                          # recorded against the score as received
    assert student.submit(aid, takes[:1]) == takes[:1]
    assert [t.id for t in student.submitted(aid)] == takes[:1]
    sub = export_bundle(student, tmp_path / "submission.zip", takes[:1], kind="submission")
    r = import_bundle(teacher, sub)
    assert r.kind == "submission" and r.added["takes"] == 1 and r.added["assignments"] == 0   # it had it
    [row] = teacher.submitted(aid)
    assert row.id == takes[0] and row.student == "Anna" and row.assignment_id == aid
    teacher.close()
