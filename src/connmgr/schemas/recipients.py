"""E-mail recipients of a notification channel: the ``notify`` field of an ``smtp`` connection.

``{"recipients": ["ops@example.com"], "sender": "alerts@example.com"}``: who
receives the tenant's alerts mailed through that connection, and the ``From``
address (optional). Addresses are checked by the ``email-validator`` package,
syntax only (no DNS: ``schemas`` does no I/O), and kept in the form every mail
server takes: the domain in ASCII (IDNA), no quoted or internationalised local
part, no IP literal, no special-use domain (``.test``, ``.local``, ``localhost``…).
A refusal never quotes the address: the library's sentences do, so ours are fixed.
"""

from __future__ import annotations

from typing import Annotated, Final

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from pydantic_core import PydanticCustomError

from connmgr.schemas.fields import STRICT_MODEL

MAX_RECIPIENTS: Final = 20
MAX_ADDRESS_LENGTH: Final = 254  # RFC 5321's path limit, less the angle brackets
ADDRESS_ERROR: Final = "email_address"
"""The field error code of an address ``email-validator`` refuses."""


def checked_address(text: str) -> str | None:
    """``text`` as an address a mail server takes (its ASCII form), or None."""
    if len(text) > MAX_ADDRESS_LENGTH:
        return None
    try:
        found = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return found.ascii_email


def _address(value: str) -> str:
    address = checked_address(value)
    if address is None:
        raise PydanticCustomError(ADDRESS_ERROR, "must be an e-mail address like name@example.com")
    return address


def _distinct(addresses: list[str]) -> list[str]:
    return list(dict.fromkeys(addresses))


EmailAddress = Annotated[
    str, StringConstraints(max_length=MAX_ADDRESS_LENGTH), AfterValidator(_address)
]


class NotifySettings(BaseModel):
    """Where an ``smtp`` channel mails alerts. No recipients: the channel mails no one
    (a delivery to it fails as misconfigured); the encryptor stores that as no field."""

    model_config = STRICT_MODEL

    recipients: Annotated[
        list[EmailAddress], Field(max_length=MAX_RECIPIENTS), AfterValidator(_distinct)
    ] = Field(default_factory=list)
    sender: EmailAddress | None = None

    @property
    def empty(self) -> bool:
        return not self.recipients and self.sender is None
