"""The secret scanner finds every form it promises, and nothing in ordinary text.

A scanner that cannot fail is a defect: each form has a test that plants the
secret in that form alone and expects exactly that form to be named.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from urllib.parse import quote, quote_plus

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.keys import private_key_pem
from support.secret_scan import WINDOW, Form, SecretLeaked, SecretScanner

SECRET = "pw-Zq8/Lk+3=Vn&x?Ty7#Mm2 ä?>~"  # its base64 holds "+", its base64url "-"
USER = "app-user"


def scanner_with(secret: str = SECRET, **options: str) -> SecretScanner:
    scanner = SecretScanner()
    scanner.add("password", secret, **options)
    return scanner


def forms_in(scanner: SecretScanner, haystack: str | bytes) -> set[Form]:
    return {finding.form for finding in scanner.scan("haystack", haystack)}


def b64(text: str, *, url: bool = False) -> str:
    encode = base64.urlsafe_b64encode if url else base64.b64encode
    return encode(text.encode()).decode()


ENCODED = {
    "raw": (SECRET, Form.RAW),
    "hex": (SECRET.encode().hex(), Form.HEX),
    "base64 padded": (b64(SECRET), Form.BASE64),
    "base64 unpadded": (b64(SECRET).rstrip("="), Form.BASE64),
    "base64 inside a larger blob": (b64("xy" + SECRET + "tail"), Form.BASE64),
    "base64url padded": (b64(SECRET, url=True), Form.BASE64URL),
    "base64url unpadded": (b64(SECRET, url=True).rstrip("="), Form.BASE64URL),
    "url quote": (quote(SECRET, safe=""), Form.URL),
    "url quote keeping /": (quote(SECRET), Form.URL),
    "url quote_plus": (quote_plus(SECRET), Form.URL_PLUS),
    "json ascii": (json.dumps({"v": SECRET}), Form.JSON),
    "repr of bytes": (repr(SECRET.encode()), Form.REPR),
}


@pytest.mark.parametrize("name", list(ENCODED))
def test_each_encoded_form_is_found_and_named(name: str) -> None:
    planted, form = ENCODED[name]
    haystack = f"status=401 detail=[{planted}] done"

    assert form in forms_in(scanner_with(), haystack)


def test_the_repr_escaped_form_is_found() -> None:
    secret = "pw\x01-with-\x7f-control-\x1b-characters"

    assert forms_in(scanner_with(secret), f"error: {secret!r}") == {Form.REPR}


def test_the_basic_auth_form_of_user_and_secret_is_found() -> None:
    scanner = scanner_with("correct-horse-battery", username=USER)
    header = "Authorization: Basic " + b64(f"{USER}:correct-horse-battery")

    assert Form.BASIC in forms_in(scanner, header)


@pytest.mark.parametrize("user", ["a", "ab", "abc", "longer-user"])
def test_basic_auth_is_found_whatever_the_user_name_length_even_without_the_user(
    user: str,
) -> None:
    scanner = scanner_with("correct-horse-battery")  # no username given

    assert Form.BASE64 in forms_in(scanner, b64(f"{user}:correct-horse-battery"))


def test_any_window_of_sixteen_characters_is_found() -> None:
    secret = "0123456789abcdefghijklmnopqrstuv"
    scanner = scanner_with(secret)

    for start in range(len(secret) - WINDOW + 1):
        part = secret[start : start + WINDOW]
        assert forms_in(scanner, f"truncated: {part}…") == {Form.WINDOW}, part


def test_fifteen_characters_of_a_long_secret_are_not_a_finding() -> None:
    secret = "0123456789abcdefghijklmnopqrstuv"

    assert forms_in(scanner_with(secret), f"head {secret[: WINDOW - 1]} tail") == set()


def test_a_secret_shorter_than_the_window_is_searched_whole() -> None:
    scanner = scanner_with("short-pw-9")

    assert Form.RAW in forms_in(scanner, "x short-pw-9 y")
    assert forms_in(scanner, "x short-pw- y") == set()


def test_every_line_of_a_pem_body_is_found_even_when_repr_escapes_the_newlines() -> None:
    key = private_key_pem()
    scanner = SecretScanner()
    scanner.add_pem("client key", key)
    body = [line for line in key.splitlines() if line and not line.startswith("-----")]

    assert forms_in(scanner, repr(key)) & {Form.REPR, Form.JSON}
    for line in body:
        assert forms_in(scanner, f"…{line}…") & {Form.PEM_LINE, Form.WINDOW}, line
    assert forms_in(scanner, f"…{body[0][5:25]}…") == {Form.WINDOW}


def test_pem_armour_alone_is_not_a_finding() -> None:
    scanner = SecretScanner()
    scanner.add_pem("client key", private_key_pem())

    assert forms_in(scanner, "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----") == set()


def test_a_jwt_is_found_whole_and_by_its_signature_but_not_by_its_common_header() -> None:
    header = b64('{"alg":"HS256","typ":"JWT"}', url=True).rstrip("=")
    token = f"{header}.eyJzdWIiOiJjb25ubWdyIn0.c2lnbmF0dXJlLW9mLXRoZS1qd3QtdGhhdC1pcy1zZWNyZXQ"
    scanner = SecretScanner()
    scanner.add_jwt("jwt", token)

    assert Form.RAW in forms_in(scanner, f"Bearer {token}")
    assert forms_in(scanner, token.split(".")[2][3:30]) == {Form.WINDOW}
    assert forms_in(scanner, f"another token {header}.e30.b3RoZXI") == set()


def test_bytes_haystacks_are_scanned() -> None:
    assert Form.RAW in forms_in(scanner_with(), b"\x00\x01" + SECRET.encode() + b"\xff")


ORDINARY = [
    "the server rejected the user name or password",
    json.dumps({"outcome": "auth_failed", "latency_ms": 12.5, "phases": {"connect": 1.2}}),
    "GET /api/connections/3f2a?limit=50 HTTP/1.1 200",
    b64("an unrelated value that is long enough to be base64 text"),
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    "",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_not_a_finding(text: str) -> None:
    scanner = scanner_with(username=USER)
    scanner.add_pem("client key", private_key_pem())

    assert scanner.scan("ordinary", text) == []


def test_a_report_names_where_and_how_without_the_secret_in_full() -> None:
    scanner = scanner_with(username=USER)
    planted = {
        "log": f"dialing with {SECRET}",
        "api": json.dumps({"server": b64(SECRET)}),
        "nats": f"Basic {b64(f'{USER}:{SECRET}')}",
    }

    with pytest.raises(SecretLeaked) as leaked:
        scanner.assert_clean({**planted, "clean": "nothing here"})

    report = str(leaked.value)
    assert SECRET not in report
    assert b64(SECRET).rstrip("=") not in report
    for line in ("log: password as raw", "api: password as base64", "nats: password as basic"):
        assert line in report
    assert "clean:" not in report


def test_a_clean_haystack_passes_and_an_empty_scanner_refuses_to_vouch() -> None:
    scanner_with().assert_clean({"log": "nothing secret"})

    with pytest.raises(ValueError, match="no secrets"):
        SecretScanner().assert_clean({"log": "anything"})


def test_a_secret_too_short_to_scan_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than"):
        scanner_with("pw")


def test_mask_hides_every_form() -> None:
    scanner = scanner_with()
    text = f"a {SECRET} b {quote(SECRET, safe='')} c"

    masked = scanner.mask(text)

    assert scanner.scan("masked", masked) == []
    assert masked == "a ★ b ★ c"


def test_the_scanner_itself_never_shows_a_secret() -> None:
    scanner = scanner_with()

    assert SECRET not in repr(scanner)
    assert scanner.labels == ["password"]


def test_pem_windows_that_a_public_text_also_holds_are_not_searched() -> None:
    key = private_key_pem()
    body = "".join(line for line in key.splitlines() if not line.startswith("-----"))
    shared = body[:40]  # the algorithm header every P-256 key starts with
    scanner = SecretScanner()
    scanner.add_pem("client key", key, public=[shared])

    assert forms_in(scanner, f"…{shared}…") == set()
    assert forms_in(scanner, f"…{body[-30:-4]}…") == {Form.WINDOW}


def test_a_truncated_basic_auth_value_is_found_by_its_base64_windows() -> None:
    secret = "basic-pw-0123456789abcdefghijklmn"
    header = "Basic " + b64(f"{USER}:{secret}")
    truncated = header[:40]  # a copy cut short, as a 64-character header field would be

    assert Form.BASE64_WINDOW in forms_in(scanner_with(secret), f"server: {truncated}")


def test_an_excerpt_never_shows_a_neighbouring_occurrence_in_part() -> None:
    secret = "0123456789abcdefghijklmnopqrstuv"
    scanner = scanner_with(secret)

    (finding,) = scanner.scan("log", f"first {secret} then {secret} end")

    assert "0123" not in finding.excerpt
    assert finding.excerpt == "first «password» then ★ end"


def test_a_certificate_is_searched_by_its_lines_not_by_windows_of_its_structure() -> None:
    pki_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(pki_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(pki_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM).decode()
    )  # fmt: skip
    body = [line for line in certificate.splitlines() if not line.startswith("-----")]
    scanner = SecretScanner()
    scanner.add_pem("client certificate", certificate)

    assert Form.PEM_LINE in forms_in(scanner, f"…{body[1]}…")
    assert forms_in(scanner, f"…{body[1][4:30]}…") == set()
