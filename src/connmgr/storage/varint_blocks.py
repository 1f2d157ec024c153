"""The bytes of a packed block: a format byte, then unsigned LEB128 varints, plain or
deflated, whichever is shorter.

``sample_codec`` (probe samples) and ``rollup_codec`` (roll-ups) write their
fields with ``VarintWriter`` and ``seal`` the result; ``unseal`` and ``VarintReader``
read them back, and every malformed byte string is a ``CorruptBlock``.
"""

from __future__ import annotations

import zlib
from typing import Final

__all__ = ["CorruptBlock", "VarintReader", "VarintWriter", "seal", "unseal"]

_PLAIN: Final = 1
_DEFLATED: Final = 2


class CorruptBlock(ValueError):
    """A block's bytes do not decode (unknown format, truncated, trailing bytes)."""


def seal(plain: bytes) -> bytes:
    """``plain`` behind its format byte, deflated when that is shorter."""
    deflated = zlib.compress(plain, 9)
    if len(deflated) < len(plain):
        return bytes([_DEFLATED]) + deflated
    return bytes([_PLAIN]) + plain


def unseal(block: bytes) -> bytes:
    """The varint stream of a sealed ``block``. Raises ``CorruptBlock``."""
    if not block or block[0] not in (_PLAIN, _DEFLATED):
        raise CorruptBlock("unknown block format")
    body = block[1:]
    if block[0] == _DEFLATED:
        try:
            body = zlib.decompress(body)
        except zlib.error as error:
            raise CorruptBlock("the block does not inflate") from error
    return body


class VarintWriter:
    def __init__(self) -> None:
        self.out = bytearray()

    def byte(self, value: int) -> None:
        self.out.append(value)

    def varint(self, value: int) -> None:
        if value < 0:
            raise ValueError("a varint is not negative")
        while value > 0x7F:
            self.out.append(value & 0x7F | 0x80)
            value >>= 7
        self.out.append(value)

    def signed(self, value: int) -> None:
        self.varint(value * 2 if value >= 0 else -value * 2 - 1)

    def text(self, value: str) -> None:
        encoded = value.encode()
        self.varint(len(encoded))
        self.out += encoded


class VarintReader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def done(self) -> bool:
        return self._at == len(self._data)

    def byte(self) -> int:
        if self._at >= len(self._data):
            raise CorruptBlock("the block ends early")
        value = self._data[self._at]
        self._at += 1
        return value

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            part = self.byte()
            value |= (part & 0x7F) << shift
            if part < 0x80:
                return value
            shift += 7
            if shift > 70:
                raise CorruptBlock("a number is too long")

    def signed(self) -> int:
        value = self.varint()
        return value >> 1 if value % 2 == 0 else -(value >> 1) - 1

    def text(self) -> str:
        length = self.varint()
        if self._at + length > len(self._data):
            raise CorruptBlock("the block ends early")
        raw = self._data[self._at : self._at + length]
        self._at += length
        try:
            return raw.decode()
        except UnicodeDecodeError as error:
            raise CorruptBlock("text is not UTF-8") from error
