"""``connmgr contract``: the published contract on standard output.

- ``connmgr contract asyncapi``: the AsyncAPI 3.0 document of the bus, the bytes
  ``/api/asyncapi.json`` serves;
- ``connmgr contract json-schema NAME``: one JSON Schema 2020-12 document
  (``schemas.json_schema``); without a name, the names there are, one a line.

Neither reads settings nor connects to anything.
"""

from __future__ import annotations

import argparse
import json
import sys

from connmgr.api.asyncapi import document_bytes
from connmgr.schemas.json_schema import UnknownSchema, json_schema, schema_names
from connmgr.schemas.settings import Settings

EX_USAGE = 64


async def run_asyncapi(_settings: Settings, _args: argparse.Namespace) -> int:
    sys.stdout.write(document_bytes().decode() + "\n")
    return 0


async def run_json_schema(_settings: Settings, args: argparse.Namespace) -> int:
    if args.name is None:
        sys.stdout.write("".join(f"{name}\n" for name in schema_names()))
        return 0
    try:
        document = json_schema(args.name)
    except UnknownSchema:
        sys.stderr.write("connmgr: no such schema; `connmgr contract json-schema` lists them\n")
        return EX_USAGE
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    return 0
