"""Canonical forms of answers and their salted hashes, and explanations only a right answer opens.

A released notebook carries only these hashes, enough for instant right/wrong feedback; the plain
keys stay in the trainer's source notebook. The salt binds a hash to its question, so two
questions with the same answer do not share a hash.

An explanation states the answer, so a released notebook carries it locked (``lock_text``): a
keystream cipher whose key is wrapped once per right answer, under a hash of that answer other
than the published one. Only a right answer opens it; the notebook then tells nothing the key's
hashes do not (a few options can be tried against them, as against the lock).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import unicodedata
import zlib
from typing import Iterable

SALT = "etp-academy"
SEALED_PREFIX = "sealed:"
LOCKED_PREFIX = "locked:"
_TAG_BYTES = 16
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


def _answer_key(qid: str, canonical: str) -> bytes:
    """What a right answer unwraps the explanation's key with (never published, unlike ``digest``)."""
    return hashlib.sha256(f"{SALT}|explanation|{qid}|{canonical}".encode("utf-8")).digest()


def _keystream(key: bytes, size: int) -> bytes:
    blocks = (hashlib.sha256(key + i.to_bytes(8, "big")).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def _xor(data: bytes, other: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, other))


def lock_text(text: str, qid: str, canonicals: Iterable[str]) -> str:
    """``text`` that only one of the right answers' ``canonicals`` opens (``unlock_text``).
    The same text and answers always lock the same way, so a regenerated release is unchanged."""
    if not text or text.startswith(LOCKED_PREFIX):
        return text
    key = hashlib.sha256(f"{SALT}|lock|{qid}|{text}".encode("utf-8")).digest()
    packed = zlib.compress(text.encode("utf-8"))
    body = _xor(packed, _keystream(key, len(packed)))
    tag = hmac.new(key, body, hashlib.sha256).digest()[:_TAG_BYTES]
    wraps = sorted(_xor(key, _answer_key(qid, c)) for c in set(canonicals))
    blob = len(wraps).to_bytes(2, "big") + b"".join(wraps) + tag + body
    return LOCKED_PREFIX + base64.b64encode(blob).decode("ascii")


def unlock_text(text: str, qid: str, canonical: str) -> str | None:
    """The explanation ``lock_text`` locked, if ``canonical`` is one of its right answers; else None."""
    try:
        blob = base64.b64decode(text[len(LOCKED_PREFIX):], validate=True)
        count = int.from_bytes(blob[:2], "big")
        wraps = [blob[2 + 32 * i: 34 + 32 * i] for i in range(count)]
        tag, body = blob[2 + 32 * count: 2 + 32 * count + _TAG_BYTES], blob[2 + 32 * count + _TAG_BYTES:]
    except (ValueError, TypeError):
        return None
    for wrap in wraps:
        key = _xor(wrap, _answer_key(qid, canonical))
        if hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest()[:_TAG_BYTES], tag):
            return zlib.decompress(_xor(body, _keystream(key, len(body)))).decode("utf-8")
    return None
