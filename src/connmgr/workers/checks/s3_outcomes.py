"""How the S3 check turns a failed request into an outcome and a fixed sentence.

The service's error code (and HTTP status) decides first; otherwise the
innermost error behind botocore's and aiohttp's wrappers is classified as for
every check. The service's own message never reaches a result.
"""

from __future__ import annotations

import ssl
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.net import classify
from connmgr.workers.egress import DnsFailure, EgressFailure, EgressRefused

# What a request to a failing target may raise; anything else is a bug.
FAILURES: Final = (ClientError, BotoCoreError, EgressRefused, DnsFailure, TimeoutError, OSError)
DENIED_STATUS: Final = 403
_BAD_KEY_CODES: Final = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
)
_WRONG_PLACE_CODES: Final = frozenset(
    {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)


def failure_of(error: BaseException) -> tuple[Outcome, str]:
    """The outcome and fixed sentence of a failed request; never the service's message."""
    if isinstance(error, ClientError):
        return _service_failure(error)
    cause = _root_cause(error)
    if isinstance(cause, EgressRefused | DnsFailure | ssl.SSLError | TimeoutError):
        return classify(cause)
    if "Timeout" in type(error).__name__:
        return classify(TimeoutError())
    if isinstance(cause, OSError):
        return classify(cause)
    return Outcome.PROTOCOL_ERROR, "the storage service answered in an unexpected way"


def _service_failure(error: ClientError) -> tuple[Outcome, str]:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _BAD_KEY_CODES:
        return Outcome.AUTH_FAILED, "the access key id or secret access key was rejected"
    if code in ("AccessDenied", "AllAccessDisabled") or status == DENIED_STATUS:
        return Outcome.PERMISSION_DENIED, "the credentials may not access the bucket"
    if code == "NoSuchBucket" or status == 404:
        return Outcome.CONFIG_ERROR, "the bucket does not exist"
    if code in _WRONG_PLACE_CODES or status == 301:
        return Outcome.CONFIG_ERROR, "the bucket is in another region or behind another endpoint"
    if status >= 500:
        return Outcome.UNREACHABLE, "the storage service is unavailable"
    return Outcome.PROTOCOL_ERROR, "the storage service refused the request"


def _root_cause(error: BaseException) -> BaseException:
    """The innermost error behind botocore's and aiohttp's wrappers (bounded walk).

    The walk stops at an ``EgressFailure``: what it wraps is not the outcome.
    """
    for _ in range(8):
        if isinstance(error, EgressFailure):
            return error
        wrapped = getattr(error, "kwargs", None)
        inner = wrapped.get("error") if isinstance(wrapped, dict) else None
        inner = inner or error.__cause__ or error.__context__
        if inner is None:
            return error
        error = inner
    return error
