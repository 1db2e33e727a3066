"""Fuzz target for the packed v3 wire parser (atheris; not collected by pytest).

Every input must either parse (and then round-trip byte for byte, and verify/decrypt without
any exception other than the documented ones) or be rejected with a CryptoError. Anything
else (another exception, a crash in the C++ core) is a finding.

Run: ``pip install atheris`` then
``python tests/fuzz/fuzz_packed_parser.py -atheris_runs=1000000 [corpus_dir]``
(without a corpus directory it writes valid seed blobs to a temporary one).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

import fbh.crypto as fc
from fbh.crypto import packed

for fn in (packed.PackedCiphertexts.from_bytes, packed.PackedCiphertexts.__init__,
           packed.PackedCiphertexts.verify, fc.decrypt_packed):
    atheris.instrument_func(fn)

KS = {k: fc.KeySet.generate(k=k) for k in (1, 2, 3)}
TABLE = fc.DecodingTable(64)
CONTEXT = b"fuzz"


def seeds() -> list[bytes]:
    """Valid blobs of every shape the parser distinguishes: proofs, aggregate, empty, padded."""
    out = []
    for k, ks in KS.items():
        for values in ([], [1], [1, -2, 3, 4, 5]):
            ct = fc.encrypt_packed(ks.public, values, context=CONTEXT, constant_time=False)
            out += [ct.to_bytes(), (ct + ct).to_bytes()]
    return out


SEEDS: list[bytes] = []
PARSED = [0]  # inputs that parsed so far


def patched(data: bytes) -> bytes:
    """A valid seed blob with byte patches: data = seed index, then (offset u16, value) triples.
    Keeps most of the structure valid so the point, proof and decoding paths get exercised."""
    blob = bytearray(SEEDS[data[0] % len(SEEDS)])
    for i in range(1, len(data) - 2, 3):
        off = int.from_bytes(data[i : i + 2], "little") % len(blob)
        blob[off] = data[i + 2]
    return bytes(blob)


def test_one_input(data: bytes) -> None:
    if len(data) > 1 and data[0] & 0x80:  # half the inputs: patched valid blobs
        data = patched(data[1:])
    try:
        ct = fc.PackedCiphertexts.from_bytes(data, threads=1)
    except fc.CryptoError:
        return
    if ct.to_bytes() != data:
        msg = "parsed blob does not round-trip"
        raise AssertionError(msg)
    PARSED[0] += 1
    if ct.num_blocks > 4 or PARSED[0] % 16:
        return  # keep executions fast: proofs and decoding on 1 parsed input in 16
    if not ct.is_aggregate:
        try:
            ct.verify(CONTEXT, threads=1)
        except fc.InvalidProof:
            pass
    ks = KS.get(ct.k)
    if ks is not None:
        try:
            fc.decrypt_packed(ks, ct, bound=64, table=TABLE, threads=1)
        except fc.PlaintextOutOfRange:
            pass
    assert len(data) == ct.nbytes


def main() -> None:
    SEEDS.extend(seeds())
    args = list(sys.argv)
    if not any(Path(a).is_dir() for a in args[1:]):
        corpus = Path(tempfile.mkdtemp(prefix="fbh-fuzz-packed-"))
        for i, blob in enumerate(SEEDS):
            (corpus / f"seed{i}").write_bytes(blob)
        args.append(str(corpus))
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
