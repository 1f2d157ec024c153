"""The template catalogue: every entry is a valid connection once the user fills the blanks,
and ``apply_template`` merges the user's input over the defaults."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from pydantic import TypeAdapter

from connmgr.schemas.connection_auth import ALLOWED_METHODS, Auth, secret_fields
from connmgr.schemas.kinds import CONFIG_MODELS, Kind, parse_config
from connmgr.schemas.templates import (
    Category,
    Template,
    TemplateCatalogueError,
    apply_template,
    catalogue_of,
    get_template,
    load_catalogue,
    search,
)

AUTH: TypeAdapter[Auth] = TypeAdapter(Auth)
CATALOGUE = load_catalogue()
TEMPLATES = sorted(CATALOGUE.values(), key=lambda t: t.id)

# The families the issue names, by the id each has in the catalogue.
REQUIRED_IDS = {
    "slack-webhook", "teams-webhook", "discord-webhook",
    "stripe", "paypal", "square",
    "sendgrid", "twilio", "mailgun", "smtp", "imap",
    "mixpanel", "google-analytics-data", "segment",
    "salesforce", "hubspot", "sap-odata", "zendesk",
    "x-twitter", "facebook-graph", "linkedin",
    "aws-s3", "gcs-s3", "azure-blob", "minio", "cloudflare-r2",
    "postgresql", "mysql", "mariadb", "mongodb", "redis",
    "github", "gitlab", "jira", "notion", "openai",
}  # fmt: skip


def filled(template: Template) -> tuple[Kind, dict[str, Any], dict[str, Any]]:
    """The template applied to its own examples of every required value."""
    config = {field.name: field.example for field in template.required_config}
    kind, merged, auth = apply_template(template, config, None)
    auth.update({field.name: field.example for field in template.required_auth})
    return kind, merged, auth


def test_the_catalogue_has_at_least_thirty_templates_covering_every_category() -> None:
    assert len(CATALOGUE) >= 30
    assert {t.category for t in TEMPLATES} == set(Category)


def test_the_catalogue_covers_every_provider_the_issue_names() -> None:
    assert CATALOGUE.keys() >= REQUIRED_IDS


def test_every_template_id_is_unique_across_all_catalogue_files() -> None:
    folder = resources.files("connmgr.schemas").joinpath("templates")
    ids = [
        entry["id"]
        for file in folder.iterdir()
        if file.name.endswith(".json")
        for entry in json.loads(file.read_text(encoding="utf-8"))
    ]
    assert len(ids) == len(set(ids)) == len(CATALOGUE)


def test_each_catalogue_file_holds_only_its_own_category() -> None:
    folder = resources.files("connmgr.schemas").joinpath("templates")
    for file in folder.iterdir():
        if file.name.endswith(".json"):
            entries = json.loads(file.read_text(encoding="utf-8"))
            assert {e["category"] for e in entries} == {file.name.removesuffix(".json")}


def test_a_repeated_template_id_is_refused() -> None:
    stripe = CATALOGUE["stripe"]
    with pytest.raises(TemplateCatalogueError):
        catalogue_of([stripe, stripe])


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_every_template_config_is_valid_for_its_kind_once_required_values_are_given(
    template: Template,
) -> None:
    kind, config, _ = filled(template)

    parse_config(kind, config)  # strict: raises on any unknown, missing or mistyped field


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_every_template_leaves_its_required_config_out_of_the_defaults(template: Template) -> None:
    model = CONFIG_MODELS[template.kind]
    known = {info.alias or name for name, info in model.model_fields.items()}
    required = [field.name for field in template.required_config]

    assert len(required) == len(set(required))
    assert set(required) <= known
    assert not set(required) & template.config.keys()


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_every_template_auth_is_valid_and_allowed_for_its_kind(template: Template) -> None:
    kind, _, auth = filled(template)

    model = AUTH.validate_python(auth, strict=True)

    assert model.method in ALLOWED_METHODS[kind]
    assert not {field.name for field in template.required_auth} & template.auth.keys()


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_every_template_names_the_secrets_its_auth_method_needs(template: Template) -> None:
    kind, _, auth = filled(template)
    needed = secret_fields(AUTH.validate_python(auth), kind)
    named = set(template.secret_fields)

    # Every required secret, plus optional ones the provider needs in practice
    # (X's OAuth 1.0a user context needs token_secret): nothing the method cannot take.
    assert needed.required <= named <= needed.allowed
    assert len(named) == len(template.secret_fields)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_every_template_documents_where_to_get_the_credential(template: Template) -> None:
    assert template.setup_notes.strip()
    assert template.docs_url.startswith("https://")


def test_get_template_finds_a_template_by_id_and_answers_none_for_an_unknown_one() -> None:
    stripe = get_template("stripe")

    assert stripe is not None
    assert stripe.kind is Kind.HTTP
    assert get_template("no-such-template") is None


def test_search_filters_by_category() -> None:
    found = search(category=Category.DATABASE)

    assert found
    assert {t.category for t in found} == {Category.DATABASE}
    assert {"postgresql", "redis"} <= {t.id for t in found}


def test_search_matches_id_name_category_and_notes_case_insensitively() -> None:
    assert "github" in {t.id for t in search(q="GitHub")}
    assert "aws-s3" in {t.id for t in search(q="amazon s3")}
    assert "stripe" in {t.id for t in search(q="PAYMENT")}
    assert "jira" in {t.id for t in search(q="id.atlassian.com")}


def test_search_combines_category_and_text_and_may_find_nothing() -> None:
    assert [t.id for t in search(category="storage", q="r2")] == ["cloudflare-r2"]
    assert search(category=Category.AI, q="postgres") == []


def test_search_without_filters_returns_the_whole_catalogue_in_a_stable_order() -> None:
    found = search()

    assert len(found) == len(CATALOGUE)
    assert found == sorted(found, key=lambda t: (t.category.value, t.name.casefold()))


def test_applying_a_template_fills_config_and_auth_defaults() -> None:
    kind, config, auth = apply_template(CATALOGUE["stripe"], {}, None)

    assert kind is Kind.HTTP
    assert config["base_url"] == "https://api.stripe.com"
    assert config["test"]["path"] == "/v1/balance"
    assert auth == {"method": "bearer"}


def test_the_users_config_wins_over_the_template_at_every_level() -> None:
    user = {"base_url": "https://api.example.test", "test": {"path": "/v1/customers"}}

    _, config, _ = apply_template(CATALOGUE["stripe"], user, None)

    assert config["base_url"] == "https://api.example.test"
    assert config["test"] == {
        "method": "GET",
        "path": "/v1/customers",
        "expected_status": 200,
        "json_path": "available",
    }


def test_the_users_headers_are_added_to_the_templates_headers() -> None:
    _, config, _ = apply_template(CATALOGUE["notion"], {"headers": {"X-Trace": "1"}}, None)

    assert config["headers"] == {"Notion-Version": "2022-06-28", "X-Trace": "1"}


def test_a_user_auth_of_the_templates_method_is_merged_over_its_defaults() -> None:
    user = {"method": "oauth2", "client_id": "app-1", "scopes": ["read"]}

    _, _, auth = apply_template(CATALOGUE["paypal"], {}, user)

    assert auth == {
        "method": "oauth2",
        "token_url": "https://api-m.paypal.com/v1/oauth2/token",
        "client_id": "app-1",
        "scopes": ["read"],
    }


def test_a_user_auth_of_another_method_replaces_the_templates_entirely() -> None:
    _, _, auth = apply_template(CATALOGUE["gitlab"], {}, {"method": "bearer"})

    assert auth == {"method": "bearer"}


def test_applying_a_template_never_changes_the_catalogue() -> None:
    before = get_template("github")
    assert before is not None
    snapshot = before.model_dump()

    _, config, auth = apply_template(before, {"test": {"path": "/rate_limit"}}, None)
    config["headers"]["Accept"] = "text/plain"
    config["test"]["method"] = "HEAD"
    auth["method"] = "none"

    assert get_template("github") == before
    assert before.model_dump() == snapshot
    assert load_catalogue()["github"].model_dump() == snapshot
