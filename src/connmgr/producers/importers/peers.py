"""Which importer reads which peer's file: the routing table of ``connmgr import``."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from . import airflow, gatus, uptime_kuma
from .entries import Conversion
from .errors import ImportFailed
from .reading import read_text

PEERS: Final = ("airflow", "uptime-kuma", "gatus")
_AIRFLOW_SUFFIXES: Final[dict[str, airflow.AirflowFormat]] = {
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".env": "env",
}


def convert_file(peer: str, path: Path, file_format: str | None = None) -> Conversion:
    """Read ``path`` as ``peer``'s file; ``ImportFailed`` if it is not one."""
    text = read_text(path)
    if peer == "airflow":
        return airflow.convert(text, _airflow_format(path, file_format))
    if peer == "uptime-kuma":
        return uptime_kuma.convert(text)
    if peer == "gatus":
        return gatus.convert(text)
    raise ValueError(f"unknown peer {peer!r}")


def _airflow_format(path: Path, file_format: str | None) -> airflow.AirflowFormat:
    if file_format is not None:
        return _AIRFLOW_SUFFIXES[f".{file_format}"]
    chosen = _AIRFLOW_SUFFIXES.get(path.suffix.lower())
    if chosen is None:
        raise ImportFailed(
            "input_not_recognised", "name the format: --format json, yaml or env (by suffix: none)"
        )
    return chosen
