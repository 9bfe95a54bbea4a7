"""General-purpose compressors as baselines for a language model's bits per character.

A compressor's BPC on a text is 8 x (compressed bytes) / (characters). Its "marginal" BPC given
the training text is 8 x (bytes(train + text) - bytes(train)) / characters: what the text costs
once the compressor has read the training split, as a trained model has. The codecs are Python's
`lzma` and `bz2`, which are the xz and bzip2 formats: `xz -9e` is preset 9 | PRESET_EXTREME
(.xz container, CRC-64) and `bzip2 -9` is compresslevel 9, byte for byte the same output.
"""

from __future__ import annotations

import bz2
import lzma
import math
from collections.abc import Callable

from paperlab.errors import UserError

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "xz": lambda data: lzma.compress(data, format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME),  # xz -9e
    "bzip2": lambda data: bz2.compress(data, compresslevel=9),  # bzip2 -9
}
LABELS = {"xz": "xz -9e", "bzip2": "bzip2 -9"}


def _bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


def compressor_bpc(name: str, text: str | bytes, given: str | bytes | None = None) -> float:
    """Bits per character of `text` (str: characters, bytes: bytes) under compressor `name`,
    alone or, with `given`, marginal to having compressed `given` first."""
    if name not in COMPRESSORS:
        raise UserError(f"unknown compressor '{name}'", f"choose from: {', '.join(COMPRESSORS)}")
    if not len(text):
        return math.nan
    compress = COMPRESSORS[name]
    if given is None:
        return 8 * len(compress(_bytes(text))) / len(text)
    before = _bytes(given)
    return 8 * (len(compress(before + _bytes(text))) - len(compress(before))) / len(text)
