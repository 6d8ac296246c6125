"""Errors raised by the device layer.

    ParseError(ValueError)      malformed characteristic bytes: wrong length, reserved
                                flag bits, impossible dates, unknown characteristic

Every parser in devices/ raises only ParseError, whatever bytes it is given.
"""

from __future__ import annotations


class ParseError(ValueError):
    """Bytes that do not follow the characteristic's format.

    ``offset`` is the byte position where decoding stopped (None when the whole
    value is at fault, e.g. an unknown characteristic) and ``reason`` says why.
    """

    def __init__(self, reason: str, *, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        where = "" if offset is None else f" at byte {offset}"
        super().__init__(f"{reason}{where}")
