"""Connection templates: data that pre-fills kind, config, auth method and the test request.

The catalogue is JSON in ``schemas/templates/`` (one file per category), read lazily
through ``importlib.resources`` on first use and cached; nothing is read at import.
A template holds no secret: ``secret_fields`` names what the user must supply, and
``required_config`` / ``required_auth`` name the per-account values (host, bucket,
client id) that have no sensible default.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, field_validator

from connmgr.schemas.fields import Description, Identifier, Name, ShortText
from connmgr.schemas.kinds import Kind

_TEMPLATE_DIR = "templates"

TemplateId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
]
DocsUrl = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https://[^\s/@]+/\S*$")]
"""A documentation link: https, fragments allowed (unlike a connection's ``HttpUrl``)."""


class Category(StrEnum):
    MESSAGING = "messaging"
    PAYMENT = "payment"
    EMAIL_SMS = "email-sms"
    ANALYTICS = "analytics"
    CRM_ERP = "crm-erp"
    SOCIAL = "social"
    STORAGE = "storage"
    DATABASE = "database"
    DEVELOPER = "developer"
    AI = "ai"
    ALERTING = "alerting"


class RequiredField(BaseModel):
    """A per-account value the user must supply; ``example`` shows its form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Identifier
    description: ShortText
    example: str | int


class Template(BaseModel):
    """One catalogue entry. ``config`` and ``auth`` are defaults, merged by ``apply_template``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: TemplateId
    name: Name
    category: Category
    kind: Kind
    config: dict[str, Any] = Field(default_factory=dict)
    required_config: list[RequiredField] = Field(default_factory=list)
    auth: dict[str, Any]
    required_auth: list[RequiredField] = Field(default_factory=list)
    secret_fields: list[Identifier] = Field(default_factory=list)
    setup_notes: Description
    docs_url: DocsUrl

    @field_validator("auth")
    @classmethod
    def _names_a_method(cls, auth: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(auth.get("method"), str):
            raise ValueError("must name an auth method")
        return auth

    @property
    def auth_method(self) -> str:
        method: str = self.auth["method"]
        return method


class TemplateCatalogueError(ValueError):
    """The packaged catalogue is inconsistent (a bug in the data, caught by the tests)."""


_TEMPLATE_LIST: TypeAdapter[list[Template]] = TypeAdapter(list[Template])


def catalogue_of(templates: Iterable[Template]) -> dict[str, Template]:
    """Index templates by id; a repeated id is an error, never a silent override."""
    catalogue: dict[str, Template] = {}
    for template in templates:
        if template.id in catalogue:
            raise TemplateCatalogueError(f"template id {template.id} appears more than once")
        catalogue[template.id] = template
    return catalogue


@cache
def _catalogue() -> Mapping[str, Template]:
    folder = resources.files("connmgr.schemas").joinpath(_TEMPLATE_DIR)
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".json")),
        key=lambda entry: entry.name,
    )
    templates = [t for entry in files for t in _TEMPLATE_LIST.validate_json(entry.read_bytes())]
    return MappingProxyType(catalogue_of(templates))


def load_catalogue() -> dict[str, Template]:
    """Every template by id (read once, then cached; the dict returned is the caller's)."""
    return dict(_catalogue())


def get_template(template_id: str) -> Template | None:
    """The template with this id, or None (the caller answers ``unknown_template``)."""
    return _catalogue().get(template_id)


def search(category: Category | str | None = None, q: str | None = None) -> list[Template]:
    """Templates of ``category`` whose id, name, category or notes contain ``q``.

    ``q`` is a case-insensitive substring; results are ordered by category, then name.
    """
    wanted = None if category is None else Category(category)
    needle = (q or "").strip().casefold()
    found = [
        template
        for template in _catalogue().values()
        if (wanted is None or template.category is wanted) and _mentions(template, needle)
    ]
    return sorted(found, key=lambda t: (t.category.value, t.name.casefold()))


def _mentions(template: Template, needle: str) -> bool:
    haystack = (template.id, template.name, template.category.value, template.setup_notes)
    return any(needle in text.casefold() for text in haystack)


def apply_template(
    template: Template, config: Mapping[str, Any], auth: Mapping[str, Any] | None
) -> tuple[Kind, dict[str, Any], dict[str, Any]]:
    """The kind, config and auth a command gets once ``template`` fills its gaps.

    - config: the user's config deep-merged over the template's (the user wins at every
      level; nested objects such as ``test`` and ``headers`` merge key by key; lists and
      scalars are replaced whole).
    - auth: ``None`` (the user gave none) takes the template's auth; an auth of the same
      method is merged over the template's; an auth of another method wins entirely.
      Pass only the fields the user set (``model_dump(exclude_unset=True)``), or a model
      default would hide the template's (``api_key.name``, for one).

    Nothing is validated here: the caller runs ``parse_config`` and the Auth model on
    the result. The template itself is never modified.
    """
    merged_config = deep_merge(template.config, config)
    if auth is None:
        return template.kind, merged_config, copy.deepcopy(template.auth)
    if auth.get("method", template.auth_method) != template.auth_method:
        return template.kind, merged_config, copy.deepcopy(dict(auth))
    return template.kind, merged_config, deep_merge(template.auth, auth)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``override`` over ``base``, recursing where both hold an object."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
