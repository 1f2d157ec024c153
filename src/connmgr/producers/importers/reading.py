"""Reading a peer's file with bounds: size, YAML complexity, JSON nesting.

Every importer reads its input here (``docs/importers.md``, "Hostile inputs"):

- at most ``MAX_INPUT_BYTES`` are read; a larger file is refused before parsing;
- YAML is read with the safe loader (plain data only, no Python objects), one
  document, and refused when its aliases would expand to more than
  ``MAX_YAML_NODES`` nodes (a "billion laughs" file) or refer to themselves;
- JSON nested too deeply for the parser is refused, not crashed on.

Errors name a line at most, never the text around it: it may be a secret.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import yaml

from .errors import ImportFailed

MAX_INPUT_BYTES: Final = 16 * 1024 * 1024
MAX_YAML_NODES: Final = 200_000


def read_text(path: Path, *, limit: int = MAX_INPUT_BYTES) -> str:
    """The file's UTF-8 text; ``ImportFailed`` when unreadable or over ``limit`` bytes."""
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ImportFailed("input_unreadable", f"cannot read the file: {reason}") from None
    if len(data) > limit:
        raise ImportFailed("input_too_large", f"the file is larger than {limit} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFailed(
            "input_malformed", f"the file is not UTF-8 text (byte {error.start})"
        ) from None


def load_json(text: str) -> Any:
    """Parse JSON; ``ImportFailed`` with the line of the error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportFailed("input_malformed", f"not valid JSON at line {error.lineno}") from None
    except RecursionError:
        raise ImportFailed("input_too_complex", "the JSON is nested too deeply") from None


def load_yaml(text: str) -> Any:
    """Parse one plain-data YAML document within ``MAX_YAML_NODES`` once expanded."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ImportFailed("input_malformed", f"not valid YAML{where}") from None
    except yaml.YAMLError:
        raise ImportFailed("input_malformed", "not valid YAML") from None
    except RecursionError:
        raise ImportFailed("input_too_complex", "the YAML is nested too deeply") from None
    finally:
        loader.dispose()


def _check_expanded_size(root: yaml.Node) -> None:
    """Count the nodes the document would have with every alias expanded, without
    expanding it: an alias is the same node object, so each node's size is
    computed once. A node that contains itself is refused."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise ImportFailed("input_too_complex", "the YAML refers to itself (a recursive alias)")
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_nodes.discard(key)
        if total > MAX_YAML_NODES:
            raise ImportFailed(
                "input_too_complex",
                f"the YAML expands to more than {MAX_YAML_NODES} values (aliases included)",
            )
        sizes[key] = total
        return total

    size(root)
