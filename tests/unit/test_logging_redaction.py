"""Secrets never reach a log line: the redaction processor and the configured pipeline.

The redacted output of each form a secret takes is searched with the secret
scanner (``support.secret_scan``), which knows the same forms; ordinary text is
kept (the positive controls).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import string
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from connmgr.runtime import redaction
from connmgr.runtime.logging import REDACTED, configure_logging, redact_secrets
from connmgr.runtime.redaction import mask_text
from connmgr.schemas.settings import Settings
from support.keys import private_key_pem
from support.logging_capture import restored_logging
from support.secret_scan import SecretScanner


def redact(**fields: Any) -> dict[str, Any]:
    return dict(redact_secrets(None, "info", {"event": "handled", **fields}))


@pytest.mark.parametrize(
    "key",
    [
        "password", "db_password", "passwd", "secret", "client_secret", "clientSecret",
        "token", "access_token", "refresh_token", "api_key", "apiKey", "X-Api-Key",
        "Authorization", "proxy-authorization", "private_key", "signing_key", "sealed",
        "plaintext", "ciphertext", "cookie", "Set-Cookie", "secrets", "credentials",
    ],
)  # fmt: skip
def test_secret_looking_keys_are_redacted(key: str) -> None:
    assert redact(**{key: "s3cr3t"})[key] == REDACTED


@pytest.mark.parametrize(
    "key", ["connection_id", "command_id", "key_id", "username", "kind", "outcome", "host"]
)
def test_ordinary_keys_are_kept(key: str) -> None:
    assert redact(**{key: "value"})[key] == "value"


def test_redaction_reaches_nested_dicts_lists_and_tuples() -> None:
    line = redact(
        payload={"auth": {"method": "basic", "username": "app", "password": "pw"}},
        headers=[{"Authorization": "Basic abc"}, ("x", {"token": "t"})],
    )

    assert line["payload"] == {"auth": {"method": "basic", "username": "app", "password": REDACTED}}
    assert line["headers"] == [{"Authorization": REDACTED}, ("x", {"token": REDACTED})]


def test_a_secret_key_hides_its_whole_value_even_when_structured() -> None:
    assert redact(secrets={"sealed": "b64", "key_id": "k1"})["secrets"] == REDACTED


def test_credentials_inside_urls_and_bearer_values_are_masked() -> None:
    line = redact(
        target="postgresql://app:hunter2@db.internal:5432/orders",
        note="retrying with Bearer eyJhbGciOi.payload.sig now",
    )

    assert line["target"] == f"postgresql://app:{REDACTED}@db.internal:5432/orders"
    assert line["note"] == f"retrying with Bearer {REDACTED} now"


def test_the_callers_data_is_not_modified() -> None:
    payload = {"password": "pw", "nested": [{"token": "t"}]}

    redact(payload=payload)

    assert payload == {"password": "pw", "nested": [{"token": "t"}]}


def test_structures_too_deep_to_inspect_are_withheld() -> None:
    deep: dict[str, Any] = {"password": "pw"}
    for _ in range(50):
        deep = {"level": deep}

    assert "pw" not in json.dumps(redact(data=deep))


secret_keys = st.sampled_from(["password", "api_key", "Authorization", "client_secret", "token"])
secret_values = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=12, max_size=24)


@given(key=secret_keys, value=secret_values, path=st.lists(st.sampled_from(["a", 0]), max_size=4))
def test_a_secret_value_never_survives_wherever_it_is_nested(
    key: str, value: str, path: list[str | int]
) -> None:
    node: Any = {key: value}
    for step in reversed(path):
        node = [node] if step == 0 else {"a": node}

    scanner = SecretScanner()
    scanner.add("value", value)
    scanned_clean(redact(data=node), scanner)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    with restored_logging():
        yield


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.usefixtures("restore_logging")
def test_configured_json_lines_carry_context_and_no_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_format="json", log_level="info"))
    structlog.contextvars.bind_contextvars(command_id="c-1")
    log = structlog.get_logger("connmgr.test")

    log.debug("not shown")
    log.info("handled", password="hunter2", connection_id="conn-1")
    logging.getLogger("nats").warning("dialing %s", "nats://user:hunter2@host:4222")

    lines = json_lines(capsys.readouterr().err)
    assert [line["event"] for line in lines] == [
        "handled",
        f"dialing nats://user:{REDACTED}@host:4222",
    ]
    handled = lines[0]
    assert handled["password"] == REDACTED
    assert handled["connection_id"] == "conn-1"
    assert handled["command_id"] == "c-1"
    assert handled["level"] == "info"
    assert handled["logger"] == "connmgr.test"
    assert handled["timestamp"].endswith("Z")
    assert lines[1]["command_id"] == "c-1"


@pytest.mark.usefixtures("restore_logging")
def test_exception_messages_are_masked_and_locals_left_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_format="json"))
    local_secret = "never-logged-local-3c9d"
    password = "redis-pw-8e2f61ab"

    try:
        raise ConnectionError(f"cannot reach redis://:{password}@cache:6379 ({len(local_secret)})")
    except ConnectionError:
        structlog.get_logger("connmgr.test").exception("probe failed")

    output = capsys.readouterr().err
    scanner = SecretScanner()
    scanner.add("password", password)
    scanner.add("local", local_secret)
    scanner.assert_clean({"stderr": output})
    assert json_lines(output)[0]["exception"][0]["exc_type"] == "ConnectionError"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("sent Basic YXBwOmh1bnRlcjI= to the server", f"sent Basic {REDACTED} to the server"),
        ("BEARER eyJhbGciOi.payload.sig", f"BEARER {REDACTED}"),
        ("fetch https://ghp_tok3n@github.com/x.git", f"fetch https://{REDACTED}@github.com/x.git"),
        ("redis://:p@ss@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
        ("GET /v1?api_key=k3y-1&page=2", f"GET /v1?api_key={REDACTED}&page=2"),
        ("https://h/t?access_token=abc", f"https://h/t?access_token={REDACTED}"),
        ("failed: user=app password=hunter2.", f"failed: user=app password={REDACTED}"),
        ("connect(password: hunter2, host: db)", f"connect(password: {REDACTED}, host: db)"),
        ("{'user': 'app', 'password': 'hun ter2'}", f"{{'user': 'app', 'password': '{REDACTED}'}}"),
        ('{"clientSecret":"c5"}', f'{{"clientSecret":"{REDACTED}"}}'),
        ("X-Api-Key: k3y", f"X-Api-Key: {REDACTED}"),
        ("GET /maps?key=AIza-k3y&sig=s1g", f"GET /maps?key={REDACTED}&sig={REDACTED}"),
        ("aws_access_key_id=AKIA1 aws_secret_access_key=wJal",
         f"aws_access_key_id={REDACTED} aws_secret_access_key={REDACTED}"),
    ],
)  # fmt: skip
def test_credentials_inside_any_text_are_masked(text: str, masked: str) -> None:
    assert redact(note=text)["note"] == masked
    assert redact(event=text)["event"] == masked


@pytest.mark.parametrize(
    "text",
    ["user=app host=db.internal port=5432", "at 2026-12-05T09:13:27Z", "a basic check",
     "https://db.internal:5432/orders", "outcome: auth_failed", "key_id=k1"],
)  # fmt: skip
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact(note=text)["note"] == text


def test_basic_and_bearer_values_are_masked_under_any_key() -> None:
    line = redact(header="Basic YXBwOmh1bnRlcjI=", sent=["Bearer t0k3n"], extra={"h": "Bearer x"})

    assert line["header"] == f"Basic {REDACTED}"
    assert line["sent"] == [f"Bearer {REDACTED}"]
    assert line["extra"] == {"h": f"Bearer {REDACTED}"}


def test_objects_bytes_and_exceptions_are_masked_as_text() -> None:
    line = redact(
        error=ValueError("cannot log in: password=hunter2"),
        raw=b"AUTH failed: password=hunter2",
        url=URL("https://app:hunter2@api.test/x"),
        count=3,
        ok=True,
    )

    assert "hunter2" not in json.dumps(line)
    assert (line["count"], line["ok"]) == (3, True)


# The same breadth as the scanner: each form below, once redacted, scans clean.
USER = "svc-reporting"
PASSWORD = "Pw-7q/Xe+2=Lm&k?Rz9#Tb4"  # its base64 has "+" and "/", its URL form "%"
TOKEN = "tok-8JvQ2mZr5WcX1pLd6HsN"


def texts_of(value: Any) -> list[str]:
    """Every text of a redacted line as the renderer gets it, before any escaping."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in texts_of(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in texts_of(item)]
    return [value] if isinstance(value, str) else []


def scanned_clean(line: dict[str, Any], scanner: SecretScanner) -> None:
    scanner.assert_clean(
        {"line texts": "\n".join(texts_of(line)), "json": json.dumps(line), "repr": repr(line)}
    )


def password_scanner() -> SecretScanner:
    scanner = SecretScanner()
    scanner.add("password", PASSWORD, username=USER)
    return scanner


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "fields",
    [
        {"headers": {"X-Upstream": basic(USER, PASSWORD)}},
        {"headers": [("X-Forwarded-Authorization", basic(USER, PASSWORD))]},
        {"event": f"sent {basic(USER, PASSWORD)} upstream"},
        {"msg": f"GET / HTTP/1.1\r\nAuthorization: {basic(USER, PASSWORD)}\r\n"},
        {"error": PermissionError(f"rejected: {basic(USER, PASSWORD)}")},
        {"exception": [{"exc_value": f"rejected ({basic(USER, PASSWORD)!r})"}]},
    ],
    ids=["header dict", "header pairs", "event text", "raw request", "exception", "rendered"],
)
def test_a_basic_credential_under_an_ordinary_key_is_masked(fields: dict[str, Any]) -> None:
    scanned_clean(redact(**fields), password_scanner())


@pytest.mark.parametrize(
    "fields",
    [
        {"headers": {"X-Upstream": f"Bearer {TOKEN}"}},
        {"event": f"retrying with bearer {TOKEN}"},
        {"error": ConnectionError(f"401 for Bearer {TOKEN}")},
    ],
    ids=["header dict", "event text", "exception"],
)
def test_a_bearer_token_under_an_ordinary_key_is_masked(fields: dict[str, Any]) -> None:
    scanner = SecretScanner()
    scanner.add("token", TOKEN)

    scanned_clean(redact(**fields), scanner)


KNOWN_FORMS = {
    "raw": PASSWORD,
    "base64": base64.b64encode(PASSWORD.encode()).decode(),
    "base64 in a Basic pair, no scheme": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    "base64url": base64.urlsafe_b64encode(PASSWORD.encode()).decode().rstrip("="),
    "base64 inside a blob": base64.b64encode(b"prefix-" + PASSWORD.encode() + b"-tail").decode(),
    "hex": PASSWORD.encode().hex(),
    "HEX": PASSWORD.encode().hex().upper(),
    "url quote": quote(PASSWORD, safe=""),
    "url quote_plus": quote_plus(PASSWORD),
    "json escaped": json.dumps({"v": PASSWORD}),
    "repr escaped": repr(PASSWORD.encode()),
}


@pytest.mark.parametrize("name", list(KNOWN_FORMS))
@pytest.mark.parametrize(
    "revealed",
    [
        {"password": PASSWORD},
        {"auth": {"user": USER, "client_secret": PASSWORD}},
        {"event": f"login failed: user={USER} password={PASSWORD}"},
        {"event": f"upstream said 401 to {basic(USER, PASSWORD)}"},
    ],
    ids=["secret key", "nested secret key", "key=value text", "basic credential"],
)
def test_a_known_secret_value_is_masked_in_each_of_its_other_forms(
    name: str, revealed: dict[str, Any]
) -> None:
    line = redact(**revealed, detail=f"server echoed [{KNOWN_FORMS[name]}] back", attempt=2)

    scanned_clean(line, password_scanner())
    assert line["attempt"] == 2
    assert line["detail"].startswith("server echoed [")


def test_a_known_bearer_token_is_masked_in_its_other_forms() -> None:
    encoded = base64.urlsafe_b64encode(TOKEN.encode()).decode()
    scanner = SecretScanner()
    scanner.add("token", TOKEN)

    scanned_clean(
        redact(event=f"Bearer {TOKEN}", detail=f"cache={encoded}", note=quote(TOKEN)), scanner
    )


@pytest.mark.parametrize(
    "shape",
    ["whole", "repr escaped", "json escaped", "cut short", "in an exception"],
)
def test_a_pem_body_is_masked_in_any_text(shape: str) -> None:
    pem = private_key_pem()
    text = {
        "whole": f"loaded {pem} from the vault",
        "repr escaped": f"value={pem!r}",
        "json escaped": json.dumps({"pem": pem}),
        "cut short": "first lines: " + "\n".join(pem.splitlines()[:3]),
        "in an exception": ValueError(f"cannot load {pem}"),
    }[shape]
    scanner = SecretScanner()
    scanner.add_pem("client key", pem)

    line = redact(note=text)

    scanned_clean(line, scanner)
    assert "-----BEGIN PRIVATE KEY-----" in line["note"]  # what it was stays readable


def signed_jwt(secret: bytes) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(b'{"sub":"svc","n":7}')
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


@pytest.mark.parametrize(
    "field",
    ["event", "assertion", "id_token_hint", "url"],
)
def test_a_jwt_looking_string_is_masked_under_any_key(field: str) -> None:
    token = signed_jwt(b"jwt-signing-secret-5f1e")
    scanner = SecretScanner()
    scanner.add_jwt("jwt", token)
    text = f"https://idp.test/cb?state=s1&assertion={token}" if field == "url" else f"got {token}"

    scanned_clean(redact(**{field: text}), scanner)


@pytest.mark.parametrize(
    "text",
    ["eyeglasses.example.com answered", "version 1.2.3-rc.4", "-----BEGIN section----- notes",
     "basic auth configured for svc-reporting", "connection c-1 base64 decoding failed",
     "sha256=9f86d081884c7d65"],
)  # fmt: skip
def test_ordinary_text_is_kept_by_the_new_rules(text: str) -> None:
    assert redact(note=text, password=PASSWORD)["note"] == text


def test_a_value_too_short_to_be_told_from_words_is_not_learned() -> None:
    line = redact(password="admin", note="the admin console answered")

    assert (line["password"], line["note"]) == (REDACTED, "the admin console answered")


ESCAPED = 'Pw "quoted" ä/ß\\back slash+9'  # every escaping below changes it


@pytest.mark.parametrize(
    "form",
    [
        json.dumps(ESCAPED), json.dumps(ESCAPED, ensure_ascii=False), repr(ESCAPED),
        repr(ESCAPED.encode()), quote(ESCAPED), quote(ESCAPED, safe=""), quote_plus(ESCAPED),
    ],
    ids=["json", "json utf-8", "repr", "repr bytes", "url", "url all", "url plus"],
)  # fmt: skip
def test_an_escaped_form_of_a_known_value_is_masked(form: str) -> None:
    scanner = SecretScanner()
    scanner.add("password", ESCAPED)

    scanned_clean(redact(password=ESCAPED, detail=f"echoed {form} back"), scanner)


@pytest.mark.parametrize(
    "encode", [base64.b64encode, base64.urlsafe_b64encode], ids=["base64", "base64url"]
)
def test_a_known_value_encoded_on_its_own_is_masked_to_the_last_character(
    encode: Callable[[bytes], bytes],
) -> None:
    encoded = encode(PASSWORD.encode()).decode()

    assert redact(password=PASSWORD, detail=encoded)["detail"] in (REDACTED, f"{REDACTED}=")


# Edges of the rules in the README ("Redaction reads free text too") and the
# docstrings of runtime/redaction.py and redaction_forms.py: the forms and depths
# that mutation testing showed unpinned (issue 10, docs/mutation.md).
def test_exceptions_bytes_and_objects_are_rendered_as_their_text() -> None:
    line = redact(
        error=ValueError("boom"), raw=b"\xff password=hunter2-xyz", ident=URL("https://h/x")
    )

    assert line["error"] == "ValueError('boom')"
    assert line["raw"] == f"\ufffd password={REDACTED}"
    assert line["ident"] == "https://h/x"


def test_a_value_starting_like_a_quote_marker_is_masked_whole() -> None:
    assert redact(note="password=Xk9-secret")["note"] == f"password={REDACTED}"


def test_a_key_with_nothing_after_it_is_skipped_and_the_next_one_masked() -> None:
    line = redact(note="password=, token=t0k3n-abc")

    assert line["note"] == f"password=, token={REDACTED}"


def test_a_userinfo_password_with_colons_is_masked_after_the_first() -> None:
    assert redact(note="ftp://app:pa:ss@h/x")["note"] == f"ftp://app:{REDACTED}@h/x"


def test_a_pem_body_is_replaced_and_its_end_line_kept() -> None:
    whole = "a -----BEGIN KEY-----\nQUJD\n-----END KEY----- b"
    cut = "a -----BEGIN KEY-----\nQUJD"

    assert redact(note=whole)["note"] == f"a -----BEGIN KEY-----{REDACTED}-----END KEY----- b"
    assert redact(note=cut)["note"] == f"a -----BEGIN KEY-----{REDACTED}"


def test_mask_text_without_known_values_masks_the_embedded_credentials() -> None:
    assert mask_text("login password=hunter2") == f"login password={REDACTED}"


def nested(kind: str, leaf: Any, depth: int) -> Any:
    """``leaf`` at ``depth`` levels below a line's field (the field itself is depth 1)."""
    for _ in range(depth - 1):
        leaf = {"a": leaf} if kind == "dict" else [leaf] if kind == "list" else (leaf,)
    return leaf


def leaf_of(value: Any) -> Any:
    while isinstance(value, dict | list | tuple):
        value = value["a"] if isinstance(value, dict) else value[0]
    return value


@pytest.mark.parametrize("kind", ["dict", "list", "tuple"])
def test_a_value_twelve_levels_deep_is_read_and_one_deeper_withheld(kind: str) -> None:
    line = redact(kept=nested(kind, "leaf", 12), withheld=nested(kind, "leaf", 13))

    assert (leaf_of(line["kept"]), leaf_of(line["withheld"])) == ("leaf", REDACTED)


@pytest.mark.parametrize("kind", ["dict", "list", "tuple"])
def test_a_secret_twelve_levels_deep_is_learned(kind: str) -> None:
    line = redact(data=nested(kind, {"password": PASSWORD}, 11), detail=PASSWORD)

    assert line["detail"] == REDACTED


def test_a_line_that_contains_itself_is_withheld_past_the_depth_limit() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    pair: tuple[list[Any]] = ([],)
    pair[0].append(pair)
    loop: dict[str, Any] = {}
    loop["a"] = loop

    line = redact(cycle=cycle, pair=pair, loop=loop)

    assert (leaf_of(line["cycle"]), leaf_of(line["pair"]), leaf_of(line["loop"])) == (REDACTED,) * 3


def test_a_known_value_is_masked_inside_lists_and_tuples() -> None:
    line = redact(password=PASSWORD, echoes=[PASSWORD], pair=(PASSWORD,))

    assert (line["echoes"], line["pair"]) == ([REDACTED], (REDACTED,))


def test_values_learned_from_lists_under_a_secret_key_and_from_exception_text() -> None:
    line = redact(
        tokens=["tok-first-9k2", ("tok-second-4h7",)],
        error=ValueError("password=exc-secret-5d"),
        detail="tok-first-9k2 tok-second-4h7",
        echo=base64.b64encode(b"exc-secret-5d").decode().rstrip("="),
    )

    assert (line["detail"], line["echo"]) == (f"{REDACTED} {REDACTED}", REDACTED)


def test_a_quoted_value_is_learned_without_its_quotes() -> None:
    line = redact(note="{'password': 'Xk9-secret'}", detail="Xk9-secret")

    assert line["detail"] == REDACTED


def test_a_number_under_a_secret_looking_key_is_not_learned() -> None:
    line = redact(token_expires_in=86400000, note="expires in 86400000 ms")

    assert (line["token_expires_in"], line["note"]) == (REDACTED, "expires in 86400000 ms")


def test_text_already_redacted_is_not_learned_again() -> None:
    quoted = f"sent Bearer {REDACTED}"

    assert redact(credentials=quoted, note=quoted)["note"] == quoted


def test_a_value_already_masked_after_a_key_is_left_as_it_is() -> None:
    """``]`` ends a bare value, so ``[redacted]`` after a key once read as ``[redacted``
    and was masked again, leaving ``password=[redacted]]``."""
    masked = f"retry with password={REDACTED}, token: {REDACTED}"

    assert redact(note=masked)["note"] == masked
    assert mask_text(masked) == masked
    assert mask_text(f"password={REDACTED}, token=t0k3n-abc") == (
        f"password={REDACTED}, token={REDACTED}"
    )


def test_a_value_of_exactly_the_shortest_known_length_is_learned() -> None:
    assert redact(password="abc123", note="echo abc123")["note"] == f"echo {REDACTED}"


def test_an_unpadded_base64_form_is_masked_to_its_last_character() -> None:
    encoded = base64.urlsafe_b64encode(PASSWORD.encode()).decode().rstrip("=")

    assert redact(password=PASSWORD, detail=encoded)["detail"] == REDACTED


@pytest.mark.parametrize("prefix", [b"p", b"pr"], ids=["offset 1", "offset 2"])
def test_a_known_value_inside_a_base64_blob_is_masked_to_the_bits_it_alone_fills(
    prefix: bytes,
) -> None:
    blob = base64.b64encode(prefix + PASSWORD.encode() + b"-tail").decode()
    first = -(-8 * len(prefix) // 6)  # the first character covering only the value's bits
    end = 8 * (len(prefix) + len(PASSWORD.encode())) // 6  # past the last such character

    masked = redact(password=PASSWORD, detail=blob)["detail"]

    assert masked == blob[:first] + REDACTED + blob[end:]


@pytest.mark.parametrize(
    "form", [json.dumps(ESCAPED)[1:-1], json.dumps(ESCAPED, ensure_ascii=False)[1:-1],
             repr(ESCAPED)[1:-1], repr(ESCAPED.encode())[2:-1]],
    ids=["json", "json utf-8", "repr", "repr bytes"],
)  # fmt: skip
def test_an_escaped_form_is_masked_from_its_first_to_its_last_character(form: str) -> None:
    assert redact(password=ESCAPED, detail=f"<{form}>")["detail"] == f"<{REDACTED}>"


def encoded_basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def test_basic_credentials_teach_their_password_in_each_shape() -> None:
    line = redact(
        unpadded=encoded_basic(b"app:unpadded-pw12").rstrip("="),
        after_a_broken_one=f"Basic Zm9vYmFy1 then {encoded_basic(b'app:second-pw22')}",
        colons=encoded_basic(b"app:pa:ss-word3"),
        detail="unpadded-pw12 second-pw22 pa:ss-word3",
    )

    assert line["detail"] == f"{REDACTED} {REDACTED} {REDACTED}"


def test_a_basic_credential_that_is_not_utf8_is_masked() -> None:
    line = redact(event=encoded_basic(b"app:\xff-secret-9"), detail="\ufffd-secret-9")

    assert (line["event"], line["detail"]) == (f"Basic {REDACTED}", REDACTED)


def test_a_basic_value_padded_past_its_end_is_masked_in_place_but_not_decoded() -> None:
    """Decoding is strict base64 (RFC 4648 §3.3, as RFC 7617 requires): a value padded
    past its end is no credential a server takes, so it teaches no password."""
    line = redact(event="Basic YXBwOnNlY3JldC1wdzE===", detail="ok secret-pw1")

    assert (line["event"], line["detail"]) == (f"Basic {REDACTED}", "ok secret-pw1")


# The fast path: a text with no space, ``=``, ``:``, ``@`` or ``/`` (ids, names,
# outcomes: most values of a line) is neither scanned nor learned from. Every rule
# must agree that such a text holds nothing to mask, or the fast path would leak.
class SecretName(StrEnum):
    API_KEY = "api_key"


inert_texts = st.text(alphabet=string.ascii_letters + string.digits + "_.+-", max_size=80)


@given(text=inert_texts)
def test_no_rule_masks_anything_in_a_text_the_fast_path_skips(text: str) -> None:
    if "eyJ" in text:
        assert not redaction._inert(text)
    else:
        assert redaction._inert(text)
        assert redaction._mask_credentials(text) == text
        assert list(redaction._secret_values(text)) == []


@pytest.mark.parametrize(
    "text",
    ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "Bearer t0k3n", "pw=hunter2",
     "https://app:hunter2@db.internal", "Basic YXBwOmh1bnRlcjI="],
)  # fmt: skip
def test_a_text_any_rule_masks_is_not_skipped(text: str) -> None:
    assert not redaction._inert(text)
    assert mask_text(text) != text


def test_a_known_value_is_masked_in_a_text_the_fast_path_skips() -> None:
    line = redact(password="hunter2-abc", user_id="hunter2-abc", note="app.hunter2-abc")

    assert line["user_id"] == REDACTED
    assert line["note"] == f"app.{REDACTED}"


@pytest.mark.parametrize("key", [7, ("a", "b"), SecretName.API_KEY, "API-Key", "key_id"])
def test_a_key_is_judged_as_its_text_whatever_its_type(key: object) -> None:
    assert redaction.is_secret_key(key) == redaction._is_secret_name(str(key))
