"""Secret references resolved on the client: each form, and refusals that name where
the reference is, never a value."""

from __future__ import annotations

from pathlib import Path

import pytest

from connmgr.producers.declared_secrets import SecretSources, UnresolvedSecret
from connmgr.schemas.declared.connection import DeclaredConnection

VALUE = "S3cret-value-never-in-an-error"


def connection(**secrets: str) -> DeclaredConnection:
    return DeclaredConnection.model_validate(
        {"name": "api", "kind": "http", "config": {"base_url": "https://a.test"},
         "auth": {"method": "oauth2", "token_url": "https://a.test/t", "client_id": "c"},
         "secrets": secrets}
    )  # fmt: skip


def test_each_reference_form_reads_its_value(tmp_path: Path) -> None:
    (tmp_path / "relative").write_text(VALUE + "-file\n")
    absolute = tmp_path / "absolute"
    absolute.write_text(VALUE + "-abs")
    asked: list[str] = []

    def prompt(question: str) -> str:
        asked.append(question)
        return VALUE + "-typed"

    sources = SecretSources({"API_SECRET": VALUE}, tmp_path, prompt)
    first = connection(client_secret="env:API_SECRET", refresh_token="file:relative")
    second = connection(client_secret="prompt", refresh_token=f"file:{absolute}")

    assert sources.resolve(first) == {
        "client_secret": VALUE,
        "refresh_token": VALUE + "-file",  # one trailing newline dropped
    }
    assert sources.resolve(second) == {
        "client_secret": VALUE + "-typed",
        "refresh_token": VALUE + "-abs",
    }
    assert asked == ["api: secrets.client_secret: "]


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("env:MISSING", "api: secrets.client_secret: the variable MISSING is not set"),
        ("file:nowhere", "api: secrets.client_secret: cannot read nowhere (FileNotFoundError)"),
        ("prompt", "api: secrets.client_secret: prompt needs a terminal"),
    ],
)
def test_an_unresolvable_reference_names_where_it_is(
    tmp_path: Path, reference: str, expected: str
) -> None:
    sources = SecretSources({"OTHER": VALUE}, tmp_path, None)

    with pytest.raises(UnresolvedSecret) as refused:
        sources.resolve(connection(client_secret=reference))

    assert str(refused.value) == expected
