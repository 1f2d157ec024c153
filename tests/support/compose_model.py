"""compose.yaml as Docker Compose reads it: ``.env``, interpolation, override files.

No Compose engine runs here, so this module does the parts of its loading the
tests need, as the Compose specification words them:

- ``read_env_file(path)``: ``KEY=VALUE`` lines, ``#`` comments, optional quotes;
- ``interpolate(value, env)``: ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
  ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+other}``,
  ``${VAR+other}`` and ``$$``, applied to every string of the file (YAML anchors
  and ``<<`` merges are resolved by the YAML loader first, as Compose does);
- ``load(files, env)``: the files merged in order (mappings key by key, service
  ``secrets``/``ports`` lists joined without duplicates, anything else replaced).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\})"
)
_JOINED_LISTS = frozenset({"secrets", "ports"})


class InterpolationError(ValueError):
    """A ``${VAR:?message}`` whose variable is unset (or empty), as Compose refuses it."""


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def interpolate(value: str, env: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["bare"] or match["name"]
        op, arg = match["op"], match["arg"] or ""
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op in ("-", ":-"):
            return interpolate(arg, env) if unset else str(current)
        if op in ("?", ":?"):
            if unset:
                raise InterpolationError(f"{name}: {arg or 'required'}")
            return str(current)
        if op in ("+", ":+"):
            return "" if unset else interpolate(arg, env)
        return current or ""

    return _VARIABLE.sub(substitute, value)


def interpolated(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolated(item, env) for item in node]
    return node


def merged(base: Any, override: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for name, value in override.items():
            out[name] = merged(base[name], value, name) if name in base else value
        return out
    if isinstance(base, list) and isinstance(override, list) and key in _JOINED_LISTS:
        return [*base, *(item for item in override if item not in base)]
    return override


def raw(files: list[Path]) -> dict[str, Any]:
    """The files merged, not interpolated."""
    document: dict[str, Any] = {}
    for path in files:
        document = merged(document, yaml.safe_load(path.read_text()))
    return document


def load(files: list[Path], env: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = interpolated(raw(files), env)
    return document
