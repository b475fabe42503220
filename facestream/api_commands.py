"""CLI commands of the HTTP API: serve, keys. Printing happens here."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table

from config.errors import ConfigError
from config.settings import Settings
from facestream.console import err, out
from facestream.services import Services
from facestream.stack import EmbeddedStack


def cmd_serve(args, settings: Settings) -> int:
    from facestream.api.server import serve

    serve(settings, args.host, args.port or settings.api.port)
    return 0


def cmd_keys(args, settings: Settings) -> int:
    from facestream.apikeys import ApiKeys
    from workers.gallery.collections import Collections

    with EmbeddedStack(settings) as endpoints:
        client = Services(settings, endpoints).redis
        registry = ApiKeys(client)
        if args.action == "create":
            if args.admin == bool(args.role):
                raise ConfigError("keys create: expected --admin, or --collection C --role ROLE")
            collection = None if args.admin else (args.key_collection or args.collection)
            if collection is not None and not Collections(client).exists(collection):
                raise ConfigError(
                    f"--collection: expected one of {Collections(client).names()}, "
                    f"got {collection!r}"
                )
            record, secret = registry.create("admin" if args.admin else args.role, collection)
            err.print(
                f"key {record.key_id} ({record.role}"
                + (f" of {collection}" if collection else "")
                + "): shown once, store it now",
                highlight=False,
            )
            print(secret)  # stdout holds the key alone, for KEY=$(facestream keys create ...)
            return 0
        if args.action == "revoke":
            if not args.key_id:
                raise ConfigError("keys revoke: expected a key ID (see `facestream keys list`)")
            if not registry.revoke(args.key_id):
                err.print(f"[red]no such key:[/red] {args.key_id}", highlight=False)
                return 1
            out.print(f"revoked key {args.key_id}", highlight=False)
            return 0
        table = Table(title="API keys")
        for column in ("id", "role", "collection", "created"):
            table.add_column(column)
        for key in registry.all():
            created = datetime.fromtimestamp(key.created).strftime("%Y-%m-%d %H:%M:%S")
            table.add_row(key.key_id, key.role, key.collection or "(all)", created)
        out.print(table)
    return 0
