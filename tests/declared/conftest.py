"""One real stack per module of ``plan``/``apply``/``export`` tests (``declared_stack``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from declared_stack import Stack, declared_stack


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with declared_stack(tmp_path_factory.mktemp("declared")) as running:
        yield running
