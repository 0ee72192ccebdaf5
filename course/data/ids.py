"""Identifiers for simulated data: random, yet the same for the same generator state."""
from __future__ import annotations

import numpy as np


def uuid4_strings(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random version-4 UUID strings, built from one block of random bytes (no loop)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hex_chars = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 32)
    dashed = np.full((n, 36), ord("-"), dtype=np.uint8)
    dashed[:, [i for i in range(36) if i not in (8, 13, 18, 23)]] = hex_chars
    return dashed.view("S36").ravel().astype(str)
