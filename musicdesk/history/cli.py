"""`musicdesk history ...`: the practice history from the command line (registered by musicdesk/cli.py).

    musicdesk history people [--add NAME] [--teacher]
    musicdesk history pieces
    musicdesk history takes [--student S] [--piece P] [--since DATE] [--until DATE] [--trash] [--json]
    musicdesk history show TAKE [--json]
    musicdesk history comment TAKE --author NAME TEXT [--note ID ...] [--bars A-B] [--time S-E]
    musicdesk history grade TAKE --grader NAME --criterion C --value V [--scale MAX] [--release]
    musicdesk history release TAKE --grader NAME
    musicdesk history trash TAKE | restore TAKE | empty-trash
    musicdesk history export OUT.zip (--take ID ... | --student S [--piece P] | --assignment A) [--kind takes|feedback]
    musicdesk history assign TITLE --teacher T --piece P [--bars A-B] [--tempo BPM] [--due DATE]
                             [--criteria C,C] [--scale MAX] [--instructions TEXT] [--student S] [--out OUT.zip]
    musicdesk history assignments [--student S] [--json]
    musicdesk history submit ASSIGNMENT OUT.zip [--take ID ...]
    musicdesk history practice --student S [--piece P] [--add MINUTES]
    musicdesk history score (P | --assignment A) [--out DIR]
    musicdesk history import BUNDLE [BUNDLE ...]
    musicdesk history backup OUT.zip
    musicdesk history progress --student S --piece P [--json]
    musicdesk history compare TAKE_A TAKE_B [--json]
    musicdesk history report --student S --piece P [--csv OUT.csv] [--pdf OUT.pdf]

Every command takes --db URL (or MUSICDESK_DB; default: the SQLite file in the user data folder).
TAKE is a take's id or its first 6 or more characters; P is a piece's title (or part of it) or id.
This module imports only the standard library until a command runs.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter

COMMANDS = ("history",)


def add_commands(sub) -> None:
    h = sub.add_parser("history", help="the practice history: takes, grades, comments, bundles (see "
                       "`musicdesk history -h`)")
    h.add_argument("--db", metavar="URL", help="the history store: an SQLite file or a postgresql:// URL "
                   "(default: MUSICDESK_DB, else the file in the user data folder)")
    h.add_argument("--files", metavar="DIR", help="the store's folder of audio and scores (default: beside an "
                   "SQLite file; MUSICDESK_FILES)")
    hs = h.add_subparsers(dest="history_command", required=True)

    p = hs.add_parser("people", help="list the students and teachers (or add one)")
    p.add_argument("--add", metavar="NAME")
    p.add_argument("--teacher", action="store_true", help="with --add: a teacher (default a student)")
    p.set_defaults(func=_people)
    hs.add_parser("pieces", help="list the pieces").set_defaults(func=_pieces)
    t = hs.add_parser("takes", help="list takes, newest first")
    t.add_argument("--student")
    t.add_argument("--piece")
    t.add_argument("--since", metavar="DATE", help="YYYY-MM-DD (local time)")
    t.add_argument("--until", metavar="DATE", help="YYYY-MM-DD, not included")
    t.add_argument("--trash", action="store_true", help="the takes in the trash instead")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=_takes)
    s = hs.add_parser("show", help="one take: its ratings, problems, grades and comments")
    s.add_argument("take")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_show)
    c = hs.add_parser("comment", help="comment on a take, optionally pinned to notes, bars or a time range")
    c.add_argument("take")
    c.add_argument("text")
    c.add_argument("--author", required=True, help="the teacher's name (a student's with --student-author)")
    c.add_argument("--student-author", action="store_true")
    c.add_argument("--note", action="append", default=[], metavar="ID", help="a note id (repeat for more)")
    c.add_argument("--bars", metavar="A-B")
    c.add_argument("--time", metavar="S-E", help="seconds into the take, e.g. 12.5-14")
    c.set_defaults(func=_comment)
    g = hs.add_parser("grade", help="grade a take on a criterion (kept as a draft unless --release)")
    g.add_argument("take")
    g.add_argument("--grader", required=True)
    g.add_argument("--criterion", required=True)
    g.add_argument("--value", required=True, type=float)
    g.add_argument("--scale", type=float, default=10.0, help="the top of the scale (default 10)")
    g.add_argument("--release", action="store_true")
    g.set_defaults(func=_grade)
    r = hs.add_parser("release", help="release a grader's draft grades on a take")
    r.add_argument("take")
    r.add_argument("--grader", required=True)
    r.set_defaults(func=_release)
    for name, func, helptext in (("trash", _trash, "move a take to the trash"),
                                 ("restore", _restore, "bring a take back from the trash")):
        x = hs.add_parser(name, help=helptext)
        x.add_argument("take")
        x.set_defaults(func=func)
    hs.add_parser("empty-trash", help="delete the takes in the trash for good").set_defaults(func=_empty)
    e = hs.add_parser("export", help="write a bundle of takes (or feedback on them) to send")
    e.add_argument("out")
    e.add_argument("--take", action="append", default=[])
    e.add_argument("--student")
    e.add_argument("--piece")
    e.add_argument("--assignment", action="append", default=[], metavar="A",
                   help="an assignment (id or title) to send to students, with its score")
    e.add_argument("--kind", default="takes", choices=("takes", "submission", "feedback"))
    e.set_defaults(func=_export)
    a = hs.add_parser("assign", help="a teacher's assignment: piece, bars, tempo, due date, criteria")
    a.add_argument("title")
    a.add_argument("--teacher", required=True)
    a.add_argument("--piece", required=True, help="a piece in the store, or a score file")
    a.add_argument("--part", help="with a score file: the part (name or number; default its first)")
    a.add_argument("--bars", metavar="A-B", help="the bars to play (the pickup is bar 0)")
    a.add_argument("--tempo", type=float, metavar="BPM")
    a.add_argument("--due", metavar="DATE", help="YYYY-MM-DD (the end of that day, local time)")
    a.add_argument("--criteria", default="pitch,rhythm,intonation", help="what it is graded on, comma-separated")
    a.add_argument("--scale", type=float, default=10.0, help="the top of the grading scale (default 10)")
    a.add_argument("--instructions", default="")
    a.add_argument("--student", help="for one student (default: anyone who imports it)")
    a.add_argument("--out", metavar="OUT.zip", help="also write it as a bundle to send")
    a.set_defaults(func=_assign)
    al = hs.add_parser("assignments", help="list the assignments, by due date")
    al.add_argument("--student")
    al.add_argument("--json", action="store_true")
    al.set_defaults(func=_assignments)
    sb = hs.add_parser("submit", help="a submission bundle of takes played for an assignment, to send")
    sb.add_argument("assignment")
    sb.add_argument("out")
    sb.add_argument("--take", action="append", default=[], help="a take to submit (default: the takes "
                    "already recorded for the assignment)")
    sb.set_defaults(func=_submit)
    pt = hs.add_parser("practice", help="practice time per day (or add time not recorded as a take)")
    pt.add_argument("--student", required=True)
    pt.add_argument("--piece")
    pt.add_argument("--add", type=float, metavar="MINUTES", help="count this much practice today")
    pt.set_defaults(func=_practice)
    sc = hs.add_parser("score", help="write a piece's (or an assignment's) score to a folder, to open it")
    sc.add_argument("piece", nargs="?")
    sc.add_argument("--assignment")
    sc.add_argument("--out", default=".", metavar="DIR")
    sc.set_defaults(func=_score)
    i = hs.add_parser("import", help="import bundles (the same bundle twice changes nothing)")
    i.add_argument("bundles", nargs="+")
    i.set_defaults(func=_import)
    b = hs.add_parser("backup", help="everything in the store, as one bundle")
    b.add_argument("out")
    b.set_defaults(func=_backup)
    pr = hs.add_parser("progress", help="a student's takes of a piece over time, and per bar")
    pr.add_argument("--student", required=True)
    pr.add_argument("--piece", required=True)
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=_progress)
    cp = hs.add_parser("compare", help="per note, what improved and what got worse from take A to take B")
    cp.add_argument("take_a")
    cp.add_argument("take_b")
    cp.add_argument("--json", action="store_true")
    cp.set_defaults(func=_compare)
    rp = hs.add_parser("report", help="a student's progress on a piece as CSV and PDF, to hand on")
    rp.add_argument("--student", required=True)
    rp.add_argument("--piece", required=True)
    rp.add_argument("--csv", metavar="OUT.csv")
    rp.add_argument("--pdf", metavar="OUT.pdf")
    rp.set_defaults(func=_report)


def open_store(args):
    from musicdesk.history.store import Store

    return Store(getattr(args, "db", None), files_dir=getattr(args, "files", None))


# ---------------------------------------------------------------------- resolving names
def _student(store, name: str):
    return store.person(name, "student", create=False)


def _student_or_new(store, name: str):
    """A student's id, or a new id matching nobody when the store has not met them yet (the assignments
    for anyone still apply to them)."""
    import uuid

    from musicdesk.history import HistoryError

    try:
        return _student(store, name)
    except HistoryError:
        return uuid.uuid4()


def _piece(store, text: str):
    import uuid

    pieces = store.pieces()
    try:
        pid = uuid.UUID(text)
        found = [p for p in pieces if p.id == pid]
    except ValueError:
        low = text.lower()
        found = [p for p in pieces if str(p.id).startswith(low)] or \
            [p for p in pieces if p.title.lower() == low] or [p for p in pieces if low in p.title.lower()]
    if len(found) != 1:
        from musicdesk.history import HistoryError

        names = ", ".join(f"{p.title} ({p.part}, {str(p.id)[:8]})" for p in found[:5])
        raise HistoryError(f"No piece matches {text!r}; `musicdesk history pieces` lists them." if not found else
                           f"{len(found)} pieces match {text!r}: {names}. Give more of the title, or the id.")
    return found[0].id


def _range(text: str | None, kind):
    if not text:
        return None
    a, sep, b = text.partition("-")
    try:
        lo, hi = kind(a), kind(b if sep else a)
    except ValueError:
        raise ValueError(f"{text!r}: give a range like 3-4") from None
    if lo > hi:
        raise ValueError(f"{text!r}: the range's start comes after its end")
    return lo, hi


def _day(text: str | None):
    if not text:
        return None
    try:
        d = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r}: give a date as YYYY-MM-DD") from None
    return dt.datetime.combine(d, dt.time()).astimezone()


def _fmt_time(t: dt.datetime) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M")


def _ratings(r: dict) -> str:
    short = {"note_accuracy": "notes", "rhythmic_accuracy": "rhythm", "intonation": "intonation"}
    return " ".join(f"{short.get(k, k)} {v:.2f}" for k, v in r.items())


# ---------------------------------------------------------------------- commands
def _people(args) -> int:
    with open_store(args) as store:
        if args.add:
            pid = store.person(args.add, "teacher" if args.teacher else "student")
            print(f"{'teacher' if args.teacher else 'student'} {args.add}: {pid}")
            return 0
        for p in store.people():
            print(f"{str(p.id)[:8]}  {p.role:<8} {p.name}")
    return 0


def _pieces(args) -> int:
    with open_store(args) as store:
        for p in store.pieces():
            print(f"{str(p.id)[:8]}  {p.title} ({p.part})")
    return 0


def _takes(args) -> int:
    with open_store(args) as store:
        rows = store.takes(student=_student(store, args.student) if args.student else None,
                           piece=_piece(store, args.piece) if args.piece else None,
                           since=_day(args.since), until=_day(args.until), trashed=args.trash)
    if args.json:
        json.dump([_take_json(r) for r in rows], sys.stdout, indent=1)
        print()
        return 0
    if not rows:
        print("No takes." if not args.trash else "The trash is empty.")
    for r in rows:
        right = f"{r.n_correct}/{r.n_notes} right" if r.n_notes is not None else "not analysed"
        grades = " ".join(f"{c} {v:g}/{mx:g}{'' if st == 'released' else ' (draft)'}" for c, (v, mx, st) in r.grades.items())
        print(f"{str(r.id)[:8]}  {_fmt_time(r.recorded_at)}  {r.student:<12} {r.piece} ({r.part})  "
              f"{r.duration_s:5.1f} s  {right}  {_ratings(r.ratings)}" + (f"  graded: {grades}" if grades else ""))
    return 0


def _take_json(r) -> dict:
    return {"id": str(r.id), "student": r.student, "piece": r.piece, "part": r.part,
            "recorded_at": r.recorded_at.isoformat(), "duration_s": round(r.duration_s, 3), "n_notes": r.n_notes,
            "n_correct": r.n_correct, "ratings": r.ratings, "network": r.network,
            "grades": {c: {"value": v, "scale_max": mx, "status": st} for c, (v, mx, st) in r.grades.items()},
            "trashed": r.trashed}


def _show(args) -> int:
    from musicdesk.history.store import current

    with open_store(args) as store:
        take = store.resolve_take(args.take)
        d = store.take(take)
    t, names = d["take"], d["names"]
    if args.json:
        from musicdesk.history.bundle import _row_json

        out = {"take": _row_json(t), "piece": _row_json(d["piece"]), "student": d["student"],
               "analyses": [{k: v for k, v in _row_json(a).items() if k != "network_embedding"} for a in d["analyses"]],
               "notes": [_row_json(n) for n in d["notes"]], "grades": [_row_json(g) for g in d["grades"]],
               "comments": [_row_json(c) for c in d["comments"]]}
        json.dump(out, sys.stdout, indent=1)
        print()
        return 0
    print(f"Take {t.id}\n  {d['student']}, {d['piece'].title} ({d['piece'].part}), {_fmt_time(t.recorded_at)}, "
          f"{t.duration_s:.1f} s at {t.sample_rate} Hz" + (f", {t.device}" if t.device else "")
          + (" (in the trash)" if t.trashed_at else ""))
    if d["analyses"]:
        a = d["analyses"][-1]
        rule = {"note_accuracy": a.note_accuracy, "rhythmic_accuracy": a.rhythmic_accuracy, "intonation": a.intonation}
        print(f"  {a.n_correct}/{a.n_notes} notes right; {_ratings(rule)}"
              + (f"; {a.network_model}: {_ratings(a.network_ratings)}" if a.network_ratings else "")
              + (f" ({len(d['analyses'])} analyses, the newest shown)" if len(d["analyses"]) > 1 else ""))
        problems = [n for n in d["notes"] if n.status != "correct" or n.timing in ("early", "late")
                    or n.intonation in ("sharp", "flat")]
        for n in problems:
            from musicdesk.history.progress import _what

            print(f"    bar {n.bar}, beat {n.beat:g}: {n.expected_name or n.expected_midi} {_what(n)}  [{n.note_id}]")
    for g in current(d["grades"]):
        print(f"  grade {g.criterion}: {g.value:g}/{g.scale_max:g} by {names.get(g.grader_id, '?')} ({g.status})")
    for c in current(d["comments"]):
        where = ", ".join(x for x in (
            ("notes " + " ".join(c.note_ids)) if c.note_ids else "",
            f"bars {c.first_bar}-{c.last_bar}" if c.first_bar is not None else "",
            f"{c.start_s:g}-{c.end_s:g} s" if c.start_s is not None else "") if x)
        print(f"  comment by {names.get(c.author_id, '?')} ({_fmt_time(c.created_at)})"
              + (f" on {where}" if where else "") + f": {c.text}")
    return 0


def _comment(args) -> int:
    with open_store(args) as store:
        take = store.resolve_take(args.take)
        author = store.person(args.author, "student" if args.student_author else "teacher")
        cid = store.comment(take, author, args.text, note_ids=args.note, bars=_range(args.bars, int),
                            times_s=_range(args.time, float))
    print(f"comment {str(cid)[:8]} added to take {str(take)[:8]}")
    return 0


def _grade(args) -> int:
    with open_store(args) as store:
        take = store.resolve_take(args.take)
        gid = store.grade(take, store.person(args.grader, "teacher"), args.criterion, args.value, args.scale,
                          released=args.release)
    print(f"grade {str(gid)[:8]}: {args.criterion} {args.value:g}/{args.scale:g} "
          f"({'released' if args.release else 'draft; `release` to send it'})")
    return 0


def _release(args) -> int:
    with open_store(args) as store:
        n = store.release_grades(store.resolve_take(args.take), store.person(args.grader, "teacher", create=False))
    print(f"{n} grade(s) released")
    return 0


def _trash(args) -> int:
    with open_store(args) as store:
        take = store.resolve_take(args.take)
        store.trash(take)
    print(f"take {str(take)[:8]} moved to the trash (`restore` brings it back; `empty-trash` deletes it)")
    return 0


def _restore(args) -> int:
    with open_store(args) as store:
        take = store.resolve_take(args.take)
        store.restore(take)
    print(f"take {str(take)[:8]} restored")
    return 0


def _empty(args) -> int:
    with open_store(args) as store:
        n = store.empty_trash()
    print(f"{n} take(s) deleted for good")
    return 0


def _export(args) -> int:
    from musicdesk.history.bundle import export_bundle

    with open_store(args) as store:
        takes = [store.resolve_take(t) for t in args.take]
        if args.assignment:
            if takes or args.student:
                raise ValueError("export an assignment on its own (`submit` sends the takes played for it)")
            ids = [store.resolve_assignment(a) for a in args.assignment]
            out = export_bundle(store, args.out, kind="assignment", assignment_ids=ids)
            print(f"{out}: {len(ids)} assignment(s), with their scores")
            return 0
        if args.student:
            takes += [r.id for r in store.takes(student=_student(store, args.student),
                                                piece=_piece(store, args.piece) if args.piece else None)]
        if not takes:
            raise ValueError("give the takes to export: --take ID (repeat), or --student NAME [--piece P]")
        out = export_bundle(store, args.out, takes, kind=args.kind)
    print(f"{out}: {len(takes)} take(s)" + (" (feedback)" if args.kind == "feedback" else ""))
    return 0


def _import(args) -> int:
    from musicdesk.history.bundle import import_bundle

    with open_store(args) as store:
        for b in args.bundles:
            r = import_bundle(store, b)
            what = ", ".join(f"{n} {k}" for k, n in r.added.items() if n) or "nothing new (already imported)"
            print(f"{b}: {r.kind}: {what}")
    return 0


def _backup(args) -> int:
    with open_store(args) as store:
        out = store.backup(args.out)
    print(f"backup written to {out}")
    return 0


def _progress(args) -> int:
    with open_store(args) as store:
        prog = store.progress(_student(store, args.student), _piece(store, args.piece))
    if args.json:
        json.dump(prog.to_json_dict(), sys.stdout, indent=1)
        print()
        return 0
    from musicdesk.history.report import progress_text

    print(progress_text(prog))
    return 0


def _compare(args) -> int:
    with open_store(args) as store:
        a, b = store.resolve_take(args.take_a), store.resolve_take(args.take_b)
        cmp = store.compare(a, b)
    if args.json:
        json.dump(cmp.to_json_dict(), sys.stdout, indent=1)
        print()
        return 0
    print(f"From take {str(a)[:8]} to take {str(b)[:8]}: {len(cmp.improved)} notes better, {len(cmp.worse)} worse, "
          f"{len(cmp.changes) - len(cmp.improved) - len(cmp.worse)} the same")
    for c in cmp.changes:
        if c.change != "same":
            print(f"  {'better' if c.change == 'improved' else 'worse '}  bar {c.bar}, beat {c.beat:g}: {c.name}  "
                  f"{c.a} -> {c.b}")
    return 0


def _report(args) -> int:
    from musicdesk.history.report import write_csv, write_pdf

    if not args.csv and not args.pdf:
        raise ValueError("give --csv OUT.csv, --pdf OUT.pdf, or both")
    with open_store(args) as store:
        student, piece = _student(store, args.student), _piece(store, args.piece)
        prog = store.progress(student, piece)
        practice = store.practice(student, piece)
    title = f"{args.student}: {prog.takes[0].piece} ({prog.takes[0].part})" if prog.takes else args.student
    if args.csv:
        write_csv(prog, args.csv)
        print(f"wrote {args.csv}")
    if args.pdf:
        write_pdf(prog, practice, args.pdf, title)
        print(f"wrote {args.pdf}")
    return 0


def _due(text: str | None):
    """A due date: the end of that local day."""
    d = _day(text)
    return None if d is None else d + dt.timedelta(days=1, seconds=-1)


def _assign(args) -> int:
    from musicdesk.history.bundle import export_bundle

    with open_store(args) as store:
        teacher = store.person(args.teacher, "teacher")
        student = _student(store, args.student) if args.student else None
        aid = store.assign(teacher, _piece_or_score(store, args.piece, args.part), args.title, bars=_range(args.bars, int),
                           tempo_bpm=args.tempo, due=_due(args.due), criteria=args.criteria.split(","),
                           scale_max=args.scale, instructions=args.instructions, student=student)
        print(f"assignment {str(aid)[:8]}: {args.title}")
        if args.out:
            print(f"{export_bundle(store, args.out, kind='assignment', assignment_ids=[aid])}: to send")
    return 0


def _assignment_json(a, piece, n_takes: int) -> dict:
    return {"id": str(a.id), "title": a.title, "piece": piece.title, "part": piece.part,
            "bars": [a.first_bar, a.last_bar] if a.first_bar is not None else None, "tempo_bpm": a.tempo_bpm,
            "due": a.due.isoformat() if a.due else None, "criteria": a.criteria, "scale_max": a.scale_max,
            "instructions": a.instructions, "takes": n_takes}


def _assignments(args) -> int:
    with open_store(args) as store:
        rows = store.assignments(_student_or_new(store, args.student) if args.student else None)
        pieces = {p.id: p for p in store.pieces()}
        counts = Counter(r.assignment_id for r in store.takes())       # one query, not one per assignment
    if args.json:
        json.dump([_assignment_json(a, pieces[a.piece_id], counts[a.id]) for a in rows], sys.stdout, indent=1)
        print()
        return 0
    if not rows:
        print("No assignments.")
    for a in rows:
        p = pieces[a.piece_id]
        bars = f", bars {a.first_bar}-{a.last_bar}" if a.first_bar is not None else ""
        tempo = f", {a.tempo_bpm:g} bpm" if a.tempo_bpm else ""
        due = f", due {a.due.astimezone():%Y-%m-%d}" if a.due else ""
        print(f"{str(a.id)[:8]}  {a.title}: {p.title} ({p.part}){bars}{tempo}{due}; graded on "
              f"{', '.join(a.criteria)} out of {a.scale_max:g}; {counts[a.id]} take(s)"
              + (f"\n          {a.instructions}" if a.instructions else ""))
    return 0


def _submit(args) -> int:
    from musicdesk.history.bundle import export_bundle

    with open_store(args) as store:
        aid = store.resolve_assignment(args.assignment)
        takes = [store.resolve_take(t) for t in args.take]
        if takes:
            store.submit(aid, takes)
        else:
            takes = [r.id for r in store.submitted(aid)]
            if not takes:
                raise ValueError("No takes are recorded for this assignment yet: record one (`analyze --save "
                                 "--assignment A`), or give --take ID")
        out = export_bundle(store, args.out, takes, kind="submission")
    print(f"{out}: a submission of {len(takes)} take(s), to send to the teacher")
    return 0


def _practice(args) -> int:
    with open_store(args) as store:
        student = _student(store, args.student)
        piece = _piece(store, args.piece) if args.piece else None
        if args.add is not None:
            if piece is None:
                raise ValueError("--add needs the --piece practised")
            store.add_practice(student, piece, args.add * 60.0)
        days = store.practice(student, piece)
    if not days:
        print("No practice recorded.")
    for day, sec in days:
        print(f"{day}  {sec / 60:6.1f} min")
    print(f"total {sum(s for _, s in days) / 60:.1f} min over {len(days)} day(s)")
    return 0


def _piece_or_score(store, text: str, part: str | None):
    """A piece of the store, or the piece of a score file and its part (made when new)."""
    import os

    if not os.path.isfile(text):
        return _piece(store, text)
    from musicdesk.cli import _part_arg
    from musicdesk.score import load_score

    score = load_score(text, part=_part_arg(part))
    return store.piece(text, score.part, score.title or "")


def _score(args) -> int:
    with open_store(args) as store:
        if args.assignment:
            aid = store.resolve_assignment(args.assignment)
            piece = next(a.piece_id for a in store.assignments() if a.id == aid)
        elif args.piece:
            piece = _piece(store, args.piece)
        else:
            raise ValueError("give a piece, or --assignment A")
        path = store.score_file(piece, args.out)
        p = next(x for x in store.pieces() if x.id == piece)
    print(f"{path} (part {p.part})")
    return 0
