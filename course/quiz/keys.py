"""Canonical forms of answers and their salted hashes.

A released notebook carries only these hashes, enough for instant right/wrong feedback; the plain
keys stay in the trainer's source notebook. The salt binds a hash to its question, so two
questions with the same answer do not share a hash.
"""
from __future__ import annotations

import base64
import hashlib
import math
import re
import unicodedata
import zlib
from typing import Iterable

SALT = "etp-academy"
SEALED_PREFIX = "sealed:"
_EDGE_PUNCTUATION = " \t\n.,;:!?\"'`()[]{}"


def normalise_text(text: str) -> str:
    """Case, accents, inner spacing and edge punctuation do not change a short-text answer."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", bare.casefold()).strip(_EDGE_PUNCTUATION)


def digest(qid: str, canonical: str) -> str:
    """The salted hash of one canonical answer to question ``qid``."""
    return hashlib.sha256(f"{SALT}|{qid}|{canonical}".encode("utf-8")).hexdigest()[:32]


def numeric_step(tolerance: float) -> float:
    """Grid on which numeric keys are hashed: fine enough that rounding never decides a mark."""
    return tolerance / 10 if tolerance > 0 else 1e-6


def numeric_cells(value: float, tolerance: float) -> Iterable[int]:
    """Grid cells within ``tolerance`` of ``value``: one of them matches a right answer's hash."""
    step = numeric_step(tolerance)
    low, high = math.floor((value - tolerance) / step), math.ceil((value + tolerance) / step)
    return range(low, high + 1)


def seal_text(text: str) -> str:
    """Hide an explanation from a casual read of the released notebook (not encryption)."""
    if not text or text.startswith(SEALED_PREFIX):
        return text
    return SEALED_PREFIX + base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")


def unseal_text(text: str) -> str:
    if not text.startswith(SEALED_PREFIX):
        return text
    return zlib.decompress(base64.b64decode(text[len(SEALED_PREFIX):])).decode("utf-8")
