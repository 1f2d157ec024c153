"""Turning CLI arguments into a ``ConnectionSpec`` or ``ConnectionChanges``, and
reading secrets safely.

Secrets come only from a prompt (``getpass``), standard input or a file, each a
JSON object of strings (a prompt asks for one field at a time); never from argv.
They are read after every other option has been parsed. ``UsageError`` messages
name the option at fault, never the content read; a spec that fails validation
raises ``InvalidCommand`` naming the fields, never their values.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

from connmgr.schemas.connection_spec import ConnectionChanges, ConnectionSpec

from .building import given, validated


class UsageError(Exception):
    """The arguments cannot make a command; the CLI exits with code 2."""


def spec_of(args: argparse.Namespace) -> ConnectionSpec:
    """The create options (``create``, ``test --draft``) as the connection they describe."""
    fields = given(
        name=args.name,
        kind=args.kind,
        template=args.template,
        config=config_of(args),
        auth=auth_of(args),
        health_check=json_object(args.health_json, "--health-json"),
        tags=args.tag,
        description=args.description,
        notify=notify_of(args),
        secrets=read_secrets(args),
    )
    return validated(ConnectionSpec, fields)


def changes_of(args: argparse.Namespace) -> ConnectionChanges:
    """The options of ``update``: the fields it changes (``--clear-tags``: no tags)."""
    if args.clear_tags and args.tag:
        raise UsageError("--clear-tags cannot be combined with --tag")
    fields = given(
        name=args.name,
        kind=args.kind,
        config=config_of(args),
        auth=auth_of(args),
        health_check=json_object(args.health_json, "--health-json"),
        tags=() if args.clear_tags else args.tag,
        description=args.description,
        notify=notify_of(args),
        secrets=read_secrets(args),
    )
    return validated(ConnectionChanges, fields)


def connection_id(text: str) -> UUID:
    """argparse ``type`` of a connection id."""
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a UUID") from None


def json_object(text: str | None, option: str) -> dict[str, Any] | None:
    """The JSON object given to ``option``, or None when the option is absent."""
    if text is None:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        raise UsageError(f"{option} is not valid JSON") from None
    if not isinstance(document, dict):
        raise UsageError(f"{option} must be a JSON object")
    return document


def config_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--config-json`` or the ``--config key=value`` pairs (dotted keys nest).

    A value is read as JSON when it parses (``5432``, ``true``), else as a string.
    """
    if args.config_json is not None:
        return json_object(args.config_json, "--config-json")
    if not args.config:
        return None
    config: dict[str, Any] = {}
    for pair in args.config:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError("--config takes KEY=VALUE")
        *parents, leaf = key.split(".")
        target = config
        for parent in parents:
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                raise UsageError(f"--config {parent} is both a value and a section")
        target[leaf] = _scalar(raw)
    return config


def _scalar(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def auth_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--auth-json``, or ``--auth-method`` with ``--username`` (``basic`` by default)."""
    if args.auth_json is not None:
        if args.auth_method or args.username:
            raise UsageError("--auth-json cannot be combined with --auth-method/--username")
        return json_object(args.auth_json, "--auth-json")
    if args.auth_method is None and args.username is None:
        return None
    auth: dict[str, Any] = {"method": args.auth_method or "basic"}
    if args.username is not None:
        auth["username"] = args.username
    return auth


def notify_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--notify-to`` (and ``--notify-from``) as the ``notify`` field, ``{"recipients":
    []}`` for ``--clear-notify`` (update only), or None when none of them is given."""
    clear = getattr(args, "clear_notify", False)
    if clear and (args.notify_to or args.notify_from):
        raise UsageError("--clear-notify cannot be combined with --notify-to/--notify-from")
    if clear:
        return {"recipients": []}
    if args.notify_from and not args.notify_to:
        raise UsageError("--notify-from needs --notify-to")
    if not args.notify_to:
        return None
    return {"recipients": list(args.notify_to), "sender": args.notify_from}


def read_secrets(
    args: argparse.Namespace,
    *,
    stdin: TextIO | None = None,
    prompt: Callable[[str], str] | None = None,
) -> dict[str, str] | None:
    """The secrets from ``--secrets-file``, ``--secrets-stdin`` or ``--secret-prompt``."""
    if args.secrets_file is not None:
        try:
            text = Path(args.secrets_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"cannot read --secrets-file ({type(error).__name__})") from None
        return _secrets_object(text, "--secrets-file")
    if args.secrets_stdin:
        return _secrets_object((stdin or sys.stdin).read(), "--secrets-stdin")
    if args.secret_prompt:
        ask = prompt or getpass.getpass
        values = {field: ask(f"{field}: ") for field in args.secret_prompt}
        if empty := [field for field, value in values.items() if not value]:
            raise UsageError(f"no value entered for {', '.join(empty)}")
        return values
    return None


def _secrets_object(text: str, option: str) -> dict[str, str]:
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not all(
        isinstance(value, str) for value in document.values()
    ):
        raise UsageError(f"{option} must hold a JSON object of strings")
    return document
