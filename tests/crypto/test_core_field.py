"""Field and scalar arithmetic of the C++ core against Python integers (edge cases first)."""

from __future__ import annotations

import random

import pytest

from fbh.crypto import _ec

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
LAMBDA = 0x5363AD4CC05C30E0A5261C028812645A122E22EA20816678DF02967C1B23BD72

# Values at limb boundaries of both 4 x 64 and 5 x 52 layouts, around p, and above p
# (the core accepts unreduced 256-bit inputs).
FIELD_EDGES = [0, 1, 2, 3, 7, P - 1, P - 2, P, P + 1, 2**256 - 1, 2**255, 2**52 - 1, 2**52,
               2**64 - 1, 2**104, 2**208 - 1, 2**128, 0x1000003D1, 2**256 - 0x1000003D1,
               (P - 1) // 2]
SCALAR_EDGES = [0, 1, 2, N - 1, N - 2, N // 2, N // 2 + 1, 2**128 - 1, 2**128, 2**255, LAMBDA]


def b32(x: int) -> bytes:
    return x.to_bytes(32, "big")


def i(b: bytes) -> int:
    return int.from_bytes(b, "big")


@pytest.fixture(scope="module")
def field_values() -> list[int]:
    rng = random.Random(1)
    return FIELD_EDGES + [rng.randrange(2**256) for _ in range(60)]


@pytest.mark.parametrize(("op", "ref"), [
    ("add", lambda a, b: (a + b) % P),
    ("sub", lambda a, b: (a - b) % P),
    ("mul", lambda a, b: a * b % P),
])
def test_binary_field_ops_match_python(field_values, op, ref):
    for a in field_values:
        for b in field_values[:30]:
            assert i(_ec._field_op(op, b32(a), b32(b))) == ref(a, b), (op, hex(a), hex(b))


def test_unary_field_ops_match_python(field_values):
    for a in field_values:
        assert i(_ec._field_op("sqr", b32(a), b32(0))) == a * a % P
        assert i(_ec._field_op("neg", b32(a), b32(0))) == -a % P
        assert i(_ec._field_op("inv", b32(a), b32(0))) == pow(a, P - 2, P)  # 0 -> 0


def test_sqrt_finds_roots_and_rejects_non_residues(field_values):
    for a in field_values:
        root = _ec._field_op("sqrt", b32(a), b32(0))
        is_square = pow(a % P, (P - 1) // 2, P) in (0, 1)
        assert (root is not None) == is_square, hex(a)
        if root is not None:
            assert i(root) ** 2 % P == a % P


def test_scalar_ops_match_python():
    rng = random.Random(2)
    values = SCALAR_EDGES + [rng.randrange(N) for _ in range(60)]
    for a in values:
        assert i(_ec._scalar_op("neg", b32(a), b32(0))) == -a % N
        for b in values[:25]:
            assert i(_ec._scalar_op("add", b32(a), b32(b))) == (a + b) % N
            assert i(_ec._scalar_op("mul", b32(a), b32(b))) == a * b % N


def test_scalar_parse_rejects_out_of_range():
    for bad in (N, N + 1, 2**256 - 1):
        with pytest.raises(ValueError, match="< n"):
            _ec._scalar_op("neg", b32(bad), b32(0))


def test_glv_split_recombines_with_short_halves():
    rng = random.Random(3)
    for k in SCALAR_EDGES + [rng.randrange(N) for _ in range(300)]:
        k1, k2 = (i(x) for x in _ec._split_lambda(b32(k)))
        assert (k1 + LAMBDA * k2 - k) % N == 0
        assert min(k1, N - k1) < 2**128
        assert min(k2, N - k2) < 2**128


@pytest.mark.parametrize(("w", "nd"), [(5, 52), (6, 43), (12, 22)])
def test_regular_recoding_gives_odd_digits_summing_to_k(w, nd):
    rng = random.Random(w)
    for k in [1, 2, 3, N - 1, N - 2, 2**255] + [rng.randrange(1, N) for _ in range(100)]:
        digits = _ec._recode(b32(k), w, nd)
        assert len(digits) == nd
        assert all(d % 2 == 1 and abs(d) < 2**w for d in digits)
        assert digits[-1] > 0 or k % 2 == 0  # top digit positive (sign flipped for even k)
        assert sum(d << (w * j) for j, d in enumerate(digits)) % N == k
