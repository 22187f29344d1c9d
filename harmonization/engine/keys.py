"""Column helpers shared by the transform and the sinks: distinct values, and 64-bit row hashes of natural keys.

The hashes identify keys across chunks without keeping rows (duplicate detection, cross-chunk merges, merge
buckets). They must be computed the same way wherever a key is hashed, so every caller goes through ``key_hash``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .schema import NATURAL_KEY


def as_array(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


def np_mask(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Boolean arrow array (nulls as False) -> numpy bool."""
    mask = as_array(mask)
    if mask.null_count:
        mask = mask.fill_null(False)
    return mask.to_numpy(zero_copy_only=False).astype(bool, copy=False)


@dataclass
class Uniques:
    """An array split into its distinct values and, per row, the index of its value (-1 for null)."""

    values: list
    indices: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, arr: pa.Array) -> Uniques:
        enc = pc.dictionary_encode(as_array(arr))
        idx = enc.indices
        indices = (idx.fill_null(-1) if idx.null_count else idx).to_numpy(zero_copy_only=False).astype(np.int64)
        values = enc.dictionary.to_pylist()
        counts = np.bincount(indices[indices >= 0], minlength=len(values))
        return cls(values, indices, counts)

    def spread(self, mapped: list, type_: pa.DataType) -> pa.Array:
        """Per-row array from one mapped value per distinct value (nulls stay null)."""
        table = pa.array([*mapped, None], type=type_)
        return table.take(pa.array(np.where(self.indices >= 0, self.indices, len(mapped))))

    def spread_np(self, mapped: np.ndarray, fill) -> np.ndarray:
        out = np.append(mapped, np.asarray([fill], dtype=mapped.dtype))
        return out[np.where(self.indices >= 0, self.indices, len(mapped))]


# --- hashing (duplicate keys, buckets) --------------------------------------------------------------------------

_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer (uint64 wraps around on purpose)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


_P = np.uint64(0x100000001B3)


_SALTS = _mix(np.arange(1, 4097, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))


def _hash_bytes(arr: pa.Array) -> np.ndarray:
    """64-bit hash per string, vectorised over the Arrow buffers (no Python object per value).

    Each string's bytes are laid into a zero-padded row of 8-byte words; the hash is the wrapped sum of the mixed
    non-zero words (each salted by its position) and the byte length. Padding is zeros, so a value hashes the same
    whatever the longest string of its chunk. Not meant to resist crafted collisions.
    """
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    n = len(arr)
    if n == 0:
        return np.zeros(0, np.uint64)
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32)[arr.offset : arr.offset + n + 1].astype(np.int64)
    lengths = np.diff(offsets)
    total = int(offsets[-1] - offsets[0])
    width = max(8, int(-(-int(lengths.max()) // 8) * 8))
    if width > 8 * len(_SALTS):
        return _hash_objects(arr)
    data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0] : offsets[-1]] if total else np.zeros(0, np.uint8)
    mat = np.zeros(n * width, dtype=np.uint8)
    if total:
        base = np.repeat(np.arange(n, dtype=np.int64) * width - (offsets[:-1] - offsets[0]), lengths)
        mat[base + np.arange(total, dtype=np.int64)] = data
    words = mat.view(np.uint64).reshape(n, width // 8)
    with np.errstate(over="ignore"):
        h = lengths.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
        for k in range(width // 8):
            w = words[:, k]
            h += np.where(w != 0, _mix(w ^ _SALTS[k]), np.uint64(0))
    h = _mix(h)
    if arr.null_count:
        h[~np_mask(arr.is_valid())] = _NULL_HASH
    return h


def _hash_objects(arr: pa.Array) -> np.ndarray:
    h = pd.util.hash_array(arr.to_numpy(zero_copy_only=False), categorize=False).astype(np.uint64)
    if arr.null_count:
        h[~np_mask(arr.is_valid())] = _NULL_HASH
    return h


def hash_strings(arr: pa.Array) -> np.ndarray:
    """64-bit hash per string; a column with few distinct values hashes its dictionary and spreads it."""
    if len(arr) > 1000 and pc.count_distinct(arr.slice(0, 1000)).as_py() > 100:
        return _hash_bytes(arr)
    enc = pc.dictionary_encode(arr)
    dh = _hash_bytes(enc.dictionary)
    idx = enc.indices
    if idx.null_count:
        out = np.full(len(arr), _NULL_HASH, dtype=np.uint64)
        valid = np_mask(idx.is_valid())
        out[valid] = dh[idx.fill_null(0).to_numpy(zero_copy_only=False)[valid]]
        return out
    return dh[idx.to_numpy(zero_copy_only=False)]


def hash_rows(arrays: list[pa.Array]) -> np.ndarray:
    """A 64-bit hash per row over several columns."""
    n = len(arrays[0]) if arrays else 0
    h = np.full(n, 0xCBF29CE484222325, dtype=np.uint64)
    for a in arrays:
        a = as_array(a)
        if pa.types.is_string(a.type) or pa.types.is_large_string(a.type):
            col = hash_strings(a)
        else:
            if pa.types.is_date32(a.type):
                a = a.cast(pa.int32())
            vals = a.cast(pa.int64()).fill_null(-(2**62)).to_numpy(zero_copy_only=False)
            col = _mix(vals.astype(np.uint64))
        with np.errstate(over="ignore"):
            h = _mix((h ^ col) * _P)
    return h


def key_base_hash(table: pa.Table) -> np.ndarray:
    """Hash of the natural key without the date (mixed with a day or an instant by ``key_hash``)."""
    return hash_rows([table[c] for c in NATURAL_KEY if c != "date"])


def key_hash(table: pa.Table, base: np.ndarray | None = None, when: np.ndarray | None = None) -> np.ndarray:
    """64-bit hash of the natural key per row (``when`` replaces the UTC day, e.g. by a timestamp's second)."""
    if base is None:
        base = key_base_hash(table)
    if when is None:
        when = table["date"].cast(pa.int32()).to_numpy(zero_copy_only=False)
    with np.errstate(over="ignore"):
        return _mix(base ^ _mix(np.asarray(when).astype(np.int64).astype(np.uint64) + np.uint64(0x632BE59BD9B4E019)))


def duplicated(h: np.ndarray) -> np.ndarray:
    """Rows whose hash occurs more than once."""
    if len(h) < 2:
        return np.zeros(len(h), bool)
    order = np.argsort(h, kind="stable")
    s = h[order]
    same = s[1:] == s[:-1]
    if not same.any():
        return np.zeros(len(h), bool)
    dup_sorted = np.zeros(len(h), bool)
    dup_sorted[1:] |= same
    dup_sorted[:-1] |= same
    out = np.empty(len(h), bool)
    out[order] = dup_sorted
    return out
