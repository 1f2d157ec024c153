"""The one JSON Schema generator of the contract (JSON Schema 2020-12, from the models).

    schema_names()                  # every name below, sorted
    json_schema("CreateConnection") # one self-contained document: $schema, $id, $defs
    kind_config_schema("postgres")  # the ``config`` a kind takes (``schemas/kinds.py``)
    definitions()                   # every schema at once, for documents that hold many

``NAMED_SCHEMAS`` is the table of names: each command as producers publish it and
its payload, the reply (``CommandOutcome``), each event as the relay publishes it
(``<Type>Message``, ``schemas.relayed``) and its ``data`` (``<Type>``), a
connection as forms give it (``ConnectionSpec``, ``ConnectionChanges``), a
connections file as ``plan``/``apply`` read it (``DeclaredFile``, ``schemas.declared.file``),
the sealed-secret format (``SealedSecrets``, ``SealKeyInfo``) and each kind's
configuration (``<Kind>Config``). Commands and specs are described as they are
validated (``mode="validation"``), everything connmgr writes as it is written
(``"serialization"``). Event data is described as published: every
``EncryptedSecrets`` becomes a ``SecretsSummary``, as the relay and the read API
reduce it. The documents built on these (``schemas.asyncapi``, the console's
forms, connection files) all call this module, so a model change reaches each.

Pure and deterministic: generated once per process, and every call returns a copy.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from connmgr.schemas.commands import (
    CreateConnection,
    CreatePayload,
    DeleteConnection,
    DeletePayload,
    RotatePayload,
    RotateSecrets,
    SealedSecrets,
    UpdateConnection,
    UpdatePayload,
)
from connmgr.schemas.connection_spec import ConnectionChanges, ConnectionSpec
from connmgr.schemas.declared.file import DeclaredFile
from connmgr.schemas.events import EVENT_TYPES, EncryptedSecrets
from connmgr.schemas.kinds import CONFIG_MODELS, Kind
from connmgr.schemas.outcomes import CommandOutcome
from connmgr.schemas.probe_commands import (
    CheckConnection,
    DraftTestPayload,
    StoredTestPayload,
    TestConnection,
)
from connmgr.schemas.relayed import RELAYED_EVENTS, SecretsSummary
from connmgr.schemas.sealed import SealKeyInfo

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX: Final = "urn:connmgr:schema:"
"""A standalone schema's ``$id`` is this prefix and its name."""
DEFS_REF: Final = "#/$defs/"


@dataclass(frozen=True, slots=True)
class NamedSchema:
    model: type[BaseModel]
    mode: JsonSchemaMode


def _named() -> dict[str, NamedSchema]:
    def read(model: type[BaseModel]) -> NamedSchema:
        return NamedSchema(model, "validation")

    def written(model: type[BaseModel]) -> NamedSchema:
        return NamedSchema(model, "serialization")

    inputs = (
        *(CreateConnection, UpdateConnection, RotateSecrets, DeleteConnection),
        *(TestConnection, CheckConnection),
        *(CreatePayload, UpdatePayload, RotatePayload, DeletePayload),
        *(StoredTestPayload, DraftTestPayload, SealedSecrets),
        *(ConnectionSpec, ConnectionChanges, DeclaredFile),
        *CONFIG_MODELS.values(),
    )
    outputs = (CommandOutcome, SealKeyInfo, SecretsSummary, *EVENT_TYPES.values())
    table = {model.__name__: read(model) for model in inputs}
    table.update({model.__name__: written(model) for model in outputs})
    table.update({model.__name__: written(model) for model in RELAYED_EVENTS.values()})
    return table


NAMED_SCHEMAS: Final[Mapping[str, NamedSchema]] = MappingProxyType(_named())
"""Name → the model and mode it is generated from; see the module doc."""

_PUBLISHED_AS: Final = {EncryptedSecrets.__name__: SecretsSummary.__name__}
"""Definitions replaced in every schema: what leaves the log in their place."""


class UnknownSchema(KeyError):
    """No schema has this name; ``schema_names()`` lists those there are."""


def schema_names() -> tuple[str, ...]:
    return tuple(sorted(NAMED_SCHEMAS))


def definitions() -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Every named schema at once: name → its key among the definitions, and the
    definitions (refs ``#/$defs/<key>``; a model met in both modes with different
    schemas has two keys, ``<Model>-Input`` and ``<Model>-Output``)."""
    roots, defs = _generated()
    return dict(roots), copy.deepcopy(dict(defs))


def json_schema(name: str) -> dict[str, Any]:
    """The self-contained 2020-12 document of ``name``: the definitions it uses under
    ``$defs``; raises ``UnknownSchema`` for a name not in ``schema_names()``."""
    roots, defs = _generated()
    if name not in roots:
        raise UnknownSchema(name)
    root = copy.deepcopy(defs[roots[name]])
    used = {key: copy.deepcopy(defs[key]) for key in sorted(reachable(root, defs))}
    document: dict[str, Any] = {"$schema": DIALECT, "$id": f"{ID_PREFIX}{name}", **root}
    if used:
        document["$defs"] = used
    return document


def kind_config_schema(kind: Kind | str) -> dict[str, Any]:
    """The JSON Schema of ``config`` for one connection kind; ``ValueError`` if unknown."""
    return json_schema(CONFIG_MODELS[Kind(kind)].__name__)


def reachable(schema: Any, defs: Mapping[str, Any], prefix: str = DEFS_REF) -> set[str]:
    """The keys of ``defs`` that ``schema`` refers to, directly or through others."""
    found: set[str] = set()
    pending = [schema]
    while pending:
        for ref in _refs(pending.pop()):
            key = ref.removeprefix(prefix)
            if ref.startswith(prefix) and key not in found:
                found.add(key)
                pending.append(defs[key])
    return found


def rewrite(schema: Any, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """A copy of ``schema`` with ``change`` applied to every object in it, innermost
    first (``change`` gets a fresh dict it may return changed)."""
    if isinstance(schema, list):
        return [rewrite(item, change) for item in schema]
    if isinstance(schema, dict):
        return change({key: rewrite(value, change) for key, value in schema.items()})
    return schema


def retarget(schema: Any, old_prefix: str, new_prefix: str) -> Any:
    """``schema`` with each ``$ref`` (and discriminator mapping) under ``old_prefix``
    moved under ``new_prefix``: how a document places the definitions elsewhere."""

    def move(node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(old_prefix):
            node["$ref"] = new_prefix + ref.removeprefix(old_prefix)
        mapping = node.get("mapping")
        if isinstance(mapping, dict):
            node["mapping"] = {
                tag: new_prefix + target.removeprefix(old_prefix)
                if isinstance(target, str) and target.startswith(old_prefix)
                else target
                for tag, target in mapping.items()
            }
        return node

    result: Any = rewrite(schema, move)
    return result


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, list):
        return [ref for item in schema for ref in _refs(item)]
    if not isinstance(schema, dict):
        return []
    own = [schema["$ref"]] if isinstance(schema.get("$ref"), str) else []
    return own + [ref for value in schema.values() for ref in _refs(value)]


@functools.cache
def _generated() -> tuple[Mapping[str, str], Mapping[str, dict[str, Any]]]:
    pairs = [(named.model, named.mode) for named in NAMED_SCHEMAS.values()]
    keys, generated = models_json_schema(pairs, ref_template=DEFS_REF + "{model}")
    roots = {
        name: str(keys[(named.model, named.mode)]["$ref"]).removeprefix(DEFS_REF)
        for name, named in NAMED_SCHEMAS.items()
    }
    defs = generated.get("$defs", {})
    for old, new in _PUBLISHED_AS.items():
        defs = _replace_ref(defs, f"{DEFS_REF}{old}", f"{DEFS_REF}{roots[new]}")
        del defs[old]
    return MappingProxyType(roots), MappingProxyType(defs)


def _replace_ref(schema: Any, old: str, new: str) -> Any:
    def replace(node: dict[str, Any]) -> dict[str, Any]:
        return {**node, "$ref": new} if node.get("$ref") == old else node

    return rewrite(schema, replace)
