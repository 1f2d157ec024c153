"""JSON columns go through orjson, and what orjson refuses still round-trips (issue 15).

Each test names the fallback it pins: without it, a document the standard library
wrote before would now fail to be written or read.
"""

from __future__ import annotations

import json
import math

from connmgr.storage.json_codec import dumps, loads


def test_a_document_round_trips_through_the_fast_path() -> None:
    document = {"name": "orders-db", "tags": ["prod"], "port": 5432, "ratio": 0.5, "x": None}
    assert loads(dumps(document)) == document
    assert dumps({"name": "café"}) == '{"name":"café"}'


def test_keys_that_are_not_strings_are_written_as_the_standard_library_writes_them() -> None:
    assert loads(dumps({1: "one"})) == {"1": "one"}


def test_an_integer_beyond_64_bits_is_written_and_read_exactly() -> None:
    big = 2**70
    assert loads(dumps({"n": big})) == {"n": big}


def test_a_nan_written_by_the_standard_library_is_still_read() -> None:
    assert math.isnan(loads(json.dumps({"x": float("nan")}))["x"])
