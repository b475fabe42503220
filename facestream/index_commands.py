"""`facestream index`, `review` and `unknowns`: (args, settings) -> exit code. Printing happens here."""

from __future__ import annotations

from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from config.errors import ConfigError
from config.settings import Settings
from facestream.console import err, esc, out
from facestream.gallery_commands import cmd_unknowns as list_unknowns
from facestream.gallery_commands import existing_collection
from facestream.services import Services
from facestream.stack import EmbeddedStack


def sheets_dir(args, settings: Settings) -> Path:
    return args.sheets or settings.data_dir / "review" / args.collection


def cmd_index(args, settings: Settings) -> int:
    from facestream.engine import FaceEngine
    from facestream.indexing.candidates import Suggester
    from facestream.indexing.jobs import IndexJobs
    from facestream.indexing.sources import expand
    from workers.models.device import resolve_device
    from workers.models.loader import embedder_name

    if bool(args.paths) == bool(args.resume):
        raise ConfigError("index: expected PATH... or --resume JOB")
    files = expand(args.paths) if args.paths else []
    with EmbeddedStack(settings) as endpoints:
        services = Services(settings, endpoints, args.collection)
        existing_collection(services)
        jobs = IndexJobs(services.redis, args.collection)
        if args.queue:
            if args.resume:
                raise ConfigError("index: --queue takes PATH..., not --resume")
            job = jobs.create(files, embedder_name(settings, resolve_device(settings.device)))
            out.print(f"job {job}: {len(files)} file(s) queued for the index workers")
            return 0
        with err.status("loading models..."):
            engine = FaceEngine(settings)
        model = engine.embedder.name
        job = args.resume or jobs.create(files, model, announce=False)
        status = jobs.status(job)
        err.print(f"index job {job}: {status.total} file(s)", highlight=False)
        suggester = Suggester(
            services.people, services.index(model), services.threshold(model), settings.match.margin
        )
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("indexing", total=status.total, completed=status.done)

            def step(path: str, n: int, total: int) -> None:
                bar.update(task, completed=jobs.status(job).done, description=Path(path).name)

            status = jobs.run(job, engine, settings, services.threshold(model), suggester, step)
    for path, note in sorted(status.notes.items()):
        err.print(f"[yellow]note:[/yellow] {esc(path)}: {esc(note)}", highlight=False)
    for path, why in sorted(status.failed.items()):
        err.print(f"[red]skipped:[/red] {esc(path)}: {esc(why)}", highlight=False)
    out.print(
        f"job {job}: {status.done - len(status.failed)}/{status.total} file(s) indexed, "
        f"{status.candidates} face(s) in {status.groups} group(s); "
        f"next: `facestream{_collection(args)} review`",
        highlight=False,
    )
    return 1 if status.failed and len(status.failed) == status.total else 0


def _collection(args) -> str:
    return "" if args.collection == "default" else f" --collection {args.collection}"


def cmd_review(args, settings: Settings) -> int:
    from facestream.indexing.review import Review

    with EmbeddedStack(settings) as endpoints:
        services = Services(settings, endpoints, args.collection)
        existing_collection(services)
        review = Review(services.redis, args.collection)
        action, rest = args.action or "list", args.args
        if action == "list":
            if rest:
                raise ConfigError(f"review list: expected no arguments, got {rest}")
            return _list(review, sheets_dir(args, settings))
        if action == "label":
            _need(action, rest, 2, "GROUP NAME")
            review.label(rest[0], rest[1])
            out.print(f"{rest[0]} labelled {esc(rest[1])}", highlight=False)
        elif action == "reject":
            _need(action, rest, 1, "GROUP|FACE")
            if rest[0].startswith("c-"):
                review.reject_face(rest[0])
                out.print(f"face {rest[0]} rejected", highlight=False)
            else:
                n = review.reject(rest[0])
                out.print(f"{rest[0]} rejected: {n} face(s) dropped", highlight=False)
        elif action == "move":
            _need(action, rest, 2, "FACE GROUP|new")
            review.move(rest[0], rest[1])
            out.print(f"face {rest[0]} moved to {rest[1]}", highlight=False)
        elif action == "merge":
            if len(rest) < 2:
                raise ConfigError(f"review merge: expected GROUP OTHER..., got {rest}")
            review.merge(rest[0], rest[1:])
            out.print(f"merged {', '.join(rest[1:])} into {rest[0]}", highlight=False)
        elif action == "commit":
            _need(action, rest, 0, "")
            report = review.commit(services.people, services.index, settings.index.best_per_person)
            for name, n in sorted(report.enrolled.items()):
                out.print(f"enrolled {esc(name)}: {n} face(s)", highlight=False)
            out.print(
                f"{report.dropped} face(s) of labelled groups removed from review; "
                f"{report.left} group(s) still unlabelled",
                highlight=False,
            )
        prune_sheets(sheets_dir(args, settings), {g.group for g in review.groups()})
    return 0


def _need(action: str, rest: list[str], n: int, usage: str) -> None:
    if len(rest) != n:
        raise ConfigError(f"review {action}: expected {usage or 'no arguments'}, got {rest}")


def _list(review, sheets: Path) -> int:
    from facestream.indexing.contact_sheet import contact_sheet, write_png

    groups = review.groups()
    if not groups:
        out.print("nothing to review")
        prune_sheets(sheets, set())
        return 0
    sheets.mkdir(parents=True, exist_ok=True)
    table = Table(title=f"Groups to review ({len(groups)}); contact sheets in {sheets}")
    for column in ("group", "faces", "label", "suggested", "best face", "from"):
        table.add_column(column, overflow="fold")
    for g in groups:
        captions = [f"{f.cid} {f.candidate.quality:.2f}" for f in g.faces]
        title = f"{g.group}: {g.size} face(s)" + (f", labelled {g.name}" if g.name else "")
        image = contact_sheet([f.candidate.thumbnail for f in g.faces], captions, title=title)
        write_png(sheets / f"{g.group}.png", image)
        sources = sorted({Path(f.candidate.source).name for f in g.faces})
        table.add_row(
            g.group,
            str(g.size),
            esc(g.name) or "[dim]-[/dim]",
            esc(g.suggested) or "[dim]-[/dim]",
            g.best.cid,
            esc(", ".join(sources[:3]) + (f" (+{len(sources) - 3})" if len(sources) > 3 else "")),
        )
    prune_sheets(sheets, {g.group for g in groups})
    out.print(table)
    return 0


def prune_sheets(sheets: Path, groups: set[str]) -> None:
    """Contact sheets show faces: one of a group that is gone (committed, rejected, merged) goes."""
    if not sheets.is_dir():
        return
    for png in sheets.glob("g*.png"):
        if png.stem not in groups:
            png.unlink()


def cmd_unknowns(args, settings: Settings) -> int:
    """List the unknown labels, or label, reject or merge one."""
    from facestream.indexing.unknown_review import UnknownReview

    action, rest = args.action or "list", args.args
    if action == "list":
        if rest:
            raise ConfigError(f"unknowns list: expected no arguments, got {rest}")
        return list_unknowns(args, settings)
    with EmbeddedStack(settings) as endpoints:
        services = Services(settings, endpoints, args.collection)
        existing_collection(services)
        review = UnknownReview(services.gallery(), settings.index.best_per_person)
        if action == "label":
            _need_args("unknowns", action, rest, 2, "LABEL NAME")
            got = review.label(rest[0], rest[1])
            enrolled = ", ".join(f"{n} {m}" for m, n in sorted(got.enrolled.items())) or "none"
            out.print(
                f"{got.label} is now {esc(got.name)} ({got.person_id}): {enrolled} vector(s) "
                f"enrolled of {got.vectors}; its past tracks carry the name",
                highlight=False,
            )
        elif action == "reject":
            _need_args("unknowns", action, rest, 1, "LABEL")
            n = review.reject(rest[0])
            out.print(f"{rest[0]} rejected: {n} vector(s) deleted", highlight=False)
        elif action == "merge":
            if len(rest) < 2:
                raise ConfigError(f"unknowns merge: expected LABEL OTHER..., got {rest}")
            merged = review.merge(rest[0], rest[1:])
            out.print(
                f"merged {', '.join(rest[1:])} into {merged.label}: {merged.tracks} track(s)",
                highlight=False,
            )
    return 0


def _need_args(command: str, action: str, rest: list[str], n: int, usage: str) -> None:
    if len(rest) != n:
        raise ConfigError(f"{command} {action}: expected {usage}, got {rest}")
