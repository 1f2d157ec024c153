"""Resolving a file's secret references on the client, just before they are sealed.

``env:NAME`` reads the variable ``NAME`` of the given environment, ``file:PATH`` the
file's text (one trailing newline dropped, as secret stores write them; a relative
path is read from the connections file's folder), ``prompt`` asks through the given
prompt (``getpass`` on a terminal; none elsewhere, so CI never hangs). A reference
that cannot be resolved raises ``UnresolvedSecret`` naming the connection, the field
and the reference, never a value. Values go straight into a ``ConnectionSpec``
(``SecretStr``) and are sealed by the ``Producer``; nothing here logs or keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from connmgr.schemas.declared.connection import DeclaredConnection
from connmgr.schemas.secret_references import SecretReference

from .errors import ProducerError

Prompt = Callable[[str], str]


class UnresolvedSecret(ProducerError):
    """A reference whose value cannot be read; the message names where, not what."""


@dataclass(frozen=True, slots=True)
class SecretSources:
    """Where references are read from: the environment the CLI was given (the user's
    own variables, named by the file, not settings), the file's folder, a prompt."""

    environ: Mapping[str, str]
    base_dir: Path
    prompt: Prompt | None = None

    def resolve(self, connection: DeclaredConnection) -> dict[str, str]:
        """Every secret of ``connection``, in plain text."""
        return {
            name: self._value(connection.name, name, SecretReference.parse(text))
            for name, text in sorted(connection.secrets.items())
        }

    def _value(self, connection: str, field: str, reference: SecretReference) -> str:
        where = f"{connection}: secrets.{field}"
        if reference.scheme == "env":
            if reference.target not in self.environ:
                raise UnresolvedSecret(f"{where}: the variable {reference.target} is not set")
            return self.environ[reference.target]
        if reference.scheme == "file":
            return self._read(where, reference.target)
        if self.prompt is None:
            raise UnresolvedSecret(f"{where}: prompt needs a terminal")
        return self.prompt(f"{where}: ")

    def _read(self, where: str, target: str) -> str:
        path = Path(target).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UnresolvedSecret(
                f"{where}: cannot read {target} ({type(error).__name__})"
            ) from None
        return text.removesuffix("\n")
