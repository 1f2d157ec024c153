"""``connmgr import airflow|uptime-kuma|gatus FILE -o OUT``: a peer's file to a connections file.

Reads the peer's file (``importers``), writes the connections file (whole or
not at all), and prints on standard output one line for the file written, one
per skipped entry and per note, and the ``env:`` names the file refers to: never
a secret value. A refused input prints ``connmgr: import <peer>: <reason code>:
<message>`` on standard error and writes nothing. Exit status: 0 written, 1
refused, 2 usage (``docs/importers.md``, "The command").

``--apply`` then applies the written file as ``connmgr apply -f OUT`` does
(``cli_declared``; ``--yes``, ``--prune``, ``--adopt``, ``--test`` and the API
options are passed on) and exits with its status (0 no changes, 2 applied, 1 an
error or a conflict). For that apply only, each ``env:`` reference the import
made up and the environment does not set resolves to the value read from the
input, held in this process's memory: the environment itself is never written, so
no child process or later command can see it (``docs/importers.md``, "Secrets").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from connmgr.schemas.declared.text import dump_declared

from . import cli_declared
from .cli_handlers import EXIT_OK, CliContext
from .importers.entries import Conversion, validation_reason
from .importers.errors import EXIT_IMPORT_FAILED, ImportFailed
from .importers.output import ImportedFile, declared_file, write_atomically
from .importers.peers import PEERS, convert_file

SUMMARY: Final = "convert an Airflow, Uptime Kuma or Gatus file to a connections file"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``import``; it sets ``args.handler``."""
    parser = subparsers.add_parser("import", help=SUMMARY, description=SUMMARY, allow_abbrev=False)
    parser.set_defaults(handler=import_file)
    parser.add_argument("peer", choices=PEERS)
    parser.add_argument("file", type=Path, help="the peer's file (Airflow: JSON, YAML or env)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="connections file")
    parser.add_argument("--format", choices=["json", "yaml", "env"], help="Airflow file format")
    parser.add_argument("--source", help="managed-by marker of the file (default: the peer)")
    parser.add_argument("--apply", action="store_true", help="then apply it, as apply -f OUT")
    parser.add_argument("--yes", action="store_true", help="with --apply: without asking")
    parser.add_argument("--prune", action="store_true", help="with --apply: apply --prune")
    parser.add_argument("--adopt", action="store_true", help="with --apply: apply --adopt")
    parser.add_argument("--test", action="store_true", help="with --apply: apply --test")
    parser.add_argument("--api-url", help="with --apply: read API base URL")
    parser.add_argument("--token", help="with --apply: read API token")
    parser.add_argument("--timeout", type=float, help="with --apply: seconds per outcome")


async def import_file(args: argparse.Namespace, ctx: CliContext) -> int:
    """Convert, write, report."""
    try:
        conversion = convert_file(args.peer, args.file, args.format)
        imported = _declared(conversion, args.source or args.peer)
        as_json = args.output.suffix.lower() == ".json"
        write_atomically(args.output, dump_declared(imported.declared, as_json=as_json))
    except ImportFailed as failed:
        sys.stderr.write(f"connmgr: import {args.peer}: {failed}\n")
        return EXIT_IMPORT_FAILED
    except OSError as error:
        reason = error.strerror or type(error).__name__
        sys.stderr.write(f"connmgr: import {args.peer}: cannot write the output: {reason}\n")
        return EXIT_IMPORT_FAILED
    count = len(imported.declared.connections)
    print(f"wrote {count} connections to {args.output} (source {imported.declared.source})")
    for line in conversion.report_lines():
        print(line)
    for name in imported.environment_names():
        print(f"needs env {name}")
    if not args.apply:
        return EXIT_OK
    code: int = await cli_declared.run_apply(
        _apply_args(args), ctx, imported=imported.secret_environment
    )
    return code


def _apply_args(args: argparse.Namespace) -> argparse.Namespace:
    options = ("prune", "adopt", "yes", "test", "api_url", "token", "timeout")
    return argparse.Namespace(file=args.output, **{name: getattr(args, name) for name in options})


def _declared(conversion: Conversion, source: str) -> ImportedFile:
    try:
        return declared_file(conversion, source)
    except ValidationError as error:
        raise ImportFailed("input_malformed", validation_reason(error)) from None
