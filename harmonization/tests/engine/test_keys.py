import numpy as np
import pyarrow as pa

from harmonization.engine.keys import duplicated, hash_rows, hash_strings
from harmonization.engine.quality import KeySet


def test_a_string_hashes_the_same_in_any_chunk_and_either_path():
    ids = [f"B0{i:07d}" for i in range(3000)]  # mostly distinct: hashed row by row
    few = ["B00000042", "Café", "", None] * 500  # few distinct: hashed through a dictionary
    a = hash_strings(pa.array(ids))
    b = hash_strings(pa.array(few))
    assert a[42] == b[0]
    sliced = hash_strings(pa.array(["x" * 40, *ids]).slice(1, 100))  # a longer neighbour, an offset slice
    assert (sliced == a[:100]).all()
    assert len(set(a.tolist())) == 3000
    assert len({b[1], b[2], b[3]}) == 3  # "Café", "" and null differ


def test_row_hashes_tell_keys_apart_and_find_duplicates():
    h = hash_rows([pa.array(["C1", "C1", "C2", "C1"]), pa.array([1, 2, 1, 1])])
    assert h[0] == h[3]
    assert len({h[0], h[1], h[2]}) == 3
    assert duplicated(h).tolist() == [True, False, False, True]


def test_key_set_counts_keys_seen_in_earlier_chunks():
    keys = KeySet()
    within, across, again = keys.add(np.array([5, 7, 7], dtype=np.uint64))
    assert (within, across.sum(), again.tolist()) == (1, 0, [])
    within, across, again = keys.add(np.array([7, 9, 9, 5], dtype=np.uint64))
    assert (within, across.sum(), sorted(again.tolist())) == (1, 2, [5, 7])
    assert keys.seen.tolist() == [5, 7, 9]


def test_key_set_agrees_with_a_python_set_over_many_chunks():
    rng = np.random.default_rng(7)
    pool = rng.integers(0, 2**64, 3000, dtype=np.uint64)
    pool[:2] = [0, 2**64 - 1]  # the ends of the range are keys like any other
    keys, seen = KeySet(), set()
    for _ in range(30):
        chunk = rng.choice(pool, size=int(rng.integers(0, 400)))
        within, across, again = keys.add(chunk)
        distinct = set(chunk.tolist())
        assert within == len(chunk) - len(distinct)
        assert sorted(again.tolist()) == sorted(distinct & seen)
        assert across.sum() == sum(1 for h in chunk.tolist() if h in seen)
        seen |= distinct
    assert keys.seen.tolist() == sorted(seen)
