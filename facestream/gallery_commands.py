"""The gallery's CLI commands: enroll, people, identify, unknowns. (args, settings) -> exit code."""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from config.errors import ConfigError, ImageError
from config.settings import Settings
from facestream.console import err, esc, out
from facestream.services import Services
from facestream.stack import EmbeddedStack


def existing_collection(services: Services) -> None:
    """A command on a collection nobody created is a typo, not an empty gallery."""
    from workers.gallery.collections import Collections

    known = Collections(services.redis)
    if not known.exists(services.collection):
        raise ConfigError(
            f"--collection: expected one of {known.names()}, got {services.collection!r}"
        )


def cmd_enroll(args, settings: Settings) -> int:
    from facestream import thumbnails
    from facestream.engine import FaceEngine
    from facestream.gallery_ops import EnrollReport, enroll, photos_by_person
    from workers.gallery.people import check_name

    if args.dir:
        if args.name or args.images:
            raise ConfigError("enroll: give either NAME IMAGE... or --dir DIR, not both")
        if not args.dir.is_dir():
            raise ConfigError(f"--dir: expected a folder, got {args.dir}")
        todo = photos_by_person(args.dir)
        if not todo:
            raise ConfigError(
                f"--dir {args.dir}: no sub-folders with photos (one folder per person)"
            )
    else:
        if not args.name or not args.images:
            raise ConfigError("enroll: expected NAME IMAGE... or --dir DIR")
        todo = {args.name: list(args.images)}
    report = EnrollReport()
    for name in list(
        todo
    ):  # a bad folder name is reported like a bad photo; the others still enroll
        try:
            check_name(name)
        except ConfigError as exc:
            report.problems.append((name, str(exc)))
            del todo[name]
    with EmbeddedStack(settings) as endpoints:
        services = Services(settings, endpoints, args.collection)
        from workers.gallery.collections import Collections

        Collections(services.redis).create(args.collection)
        with err.status("loading models..."):
            engine = FaceEngine(settings)
        index = services.index(engine.embedder.name)
        for n, (name, photos) in enumerate(todo.items(), 1):
            with err.status(f"[{n}/{len(todo)}] {name}: {len(photos)} photo(s)"):
                enroll(
                    engine,
                    services.people,
                    index,
                    name,
                    photos,
                    report,
                    lambda pid, fid, jpeg: thumbnails.store(services.redis, pid, fid, jpeg),
                )
    for path, note in report.notes:
        err.print(f"[yellow]note:[/yellow] {esc(path)}: {esc(note)}", highlight=False)
    for path, problem in report.problems:
        err.print(
            f"[red]skipped:[/red] {esc(problem if str(path) in problem else f'{path}: {problem}')}",
            highlight=False,
        )
    for name, count in report.enrolled.items():
        out.print(
            f"enrolled {esc(name)}: {count} face(s) ({engine.embedder.name})", highlight=False
        )
    if not report.enrolled:
        err.print("[red]nothing enrolled[/red]")
        return 1
    return 0


def cmd_people(args, settings: Settings) -> int:
    with EmbeddedStack(settings) as endpoints:
        services = Services(settings, endpoints, args.collection)
        existing_collection(services)
        if args.action == "rm":
            if not args.name:
                raise ConfigError("people rm: expected a NAME")
            person_id = services.people.find(args.name)
            if person_id is None:
                err.print(f"[red]no such person:[/red] {esc(args.name)}", highlight=False)
                return 1
            from facestream.erasure import erase_person

            # the same erasure as the API: vectors, names, result records, then AOF and compaction
            erase_person(services, args.collection, person_id)
            out.print(f"removed {esc(args.name)}", highlight=False)
            return 0
        table = Table(title="Enrolled people")
        for column in ("name", "person id", "faces"):
            table.add_column(column)
        for p in services.people.all():
            table.add_row(
                esc(p.name),
                p.person_id,
                ", ".join(f"{n} ({m})" for m, n in sorted(p.faces.items())) or "0",
            )
        out.print(table)
    return 0


def searcher(services: Services, settings: Settings):
    """(the models, the collection's vector index of their embedder, its threshold) for a command
    that identifies faces; a ConfigError when nobody was enrolled with that embedder."""
    from facestream.engine import FaceEngine
    from facestream.gallery_ops import other_model_only

    with err.status("loading models..."):
        engine = FaceEngine(settings)
    problem = other_model_only(services.people, engine.embedder.name)
    if problem:
        raise ConfigError(problem)
    name = engine.embedder.name
    return engine, services.index(name), services.threshold(name)


def cmd_identify(args, settings: Settings) -> int:
    from facestream.gallery_ops import identify

    if args.annotate is not None and len(args.images) != 1:
        raise ConfigError(f"--annotate: expected one IMAGE, got {len(args.images)}")
    failures = 0
    with EmbeddedStack(settings) as endpoints:
        services = Services(settings, endpoints, args.collection)
        existing_collection(services)
        engine, index, threshold = searcher(services, settings)
        rows = []
        for path in args.images:
            try:
                faces = identify(
                    engine, services.people, index, threshold, settings.match.margin, path
                )
            except ImageError as exc:
                err.print(f"[red]skipped:[/red] {esc(exc)}", highlight=False)
                failures += 1
                continue
            if not faces:
                err.print(f"{esc(path)}: no face found", highlight=False)
            rows += faces
            if args.annotate is not None:
                from facestream.reports.annotate import annotate_photo

                annotate_photo(path, faces, args.annotate)
                err.print(f"annotated photo saved to {esc(args.annotate)}", highlight=False)
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        table = Table(title=f"Faces ({engine.embedder.name}, threshold {threshold:.2f})")
        for column in ("image", "bbox", "name", "score"):
            table.add_column(column, overflow="fold")
        for r in rows:
            table.add_row(
                esc(Path(r["image"]).name),
                str(r["bbox"]),
                esc(r["name"]) if r["name"] else "[dim]unknown[/dim]",
                f"{r['score']:.3f}",
            )
        out.print(table)
    return 1 if failures == len(args.images) else 0


def cmd_unknowns(args, settings: Settings) -> int:
    from datetime import datetime

    from workers.gallery.unknowns import list_unknowns

    with EmbeddedStack(settings) as endpoints:
        unknowns = list_unknowns(Services(settings, endpoints).redis, args.collection)
    if not unknowns:
        out.print("no unknown faces seen yet")
        return 0
    stamp = lambda t: datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "-"  # noqa: E731
    table = Table(title="Unknown faces")
    for column in ("label", "tracks", "faces", "first seen", "last seen", "cameras"):
        table.add_column(column)
    for u in unknowns:
        table.add_row(
            u.label,
            str(u.tracks),
            str(u.faces),
            stamp(u.first_seen),
            stamp(u.last_seen),
            ", ".join(u.cameras),
        )
    out.print(table)
    return 0
