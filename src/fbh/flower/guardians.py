"""The guardians on their own Flower nodes: key ceremony and partial decryption by message.

The server drives the guardians exactly as the in-process run does — the same
:class:`~fbh.protocol.ceremony.KeyCeremonyMediator`, the same
:class:`~fbh.protocol.council.GuardianCouncil` and
:class:`~fbh.protocol.ceremony.DecryptionMediator` — but each guardian it holds
is a :class:`RemoteGuardian`: a stand-in whose every method is one Flower
message to that guardian's node, where the real
:class:`~fbh.protocol.guardian.Guardian` answers with its own secrets.  The
server thus mediates and holds no secret.

On its node (``role='guardian' index=<i>``) a guardian keeps everything it holds
in one 0600 file of its own folder, ``guardian_<i>.json``
(:meth:`Guardian.save_state`): Flower runs every message in a fresh ClientApp
process, so the ceremony's secrets and the once-per-round record of what it
decrypted must outlive the process.  It answers a share request only for the
aggregate recorded on chain (it reads the round itself from the chain it
reaches by RPC), with its Chaum–Pedersen proof.

Each step goes to every guardian it concerns in one ``send_and_receive`` (the
mediators call the stand-ins one by one; the first call of a step sends the
step to all of them and the others read their answer from it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fbh.crypto.chaum_pedersen import DleqProof
from fbh.crypto.threshold import DecryptionShare
from fbh.flower import site
from fbh.flower import records as r
from fbh.protocol.ceremony import GuardianUnavailable
from fbh.protocol.guardian import Announcement, Backup, Complaint, DecryptionRequest, Guardian, Refusal
from fbh.protocol.keyring import NodeKeys

__all__ = ["GuardianNodes", "RemoteGuardian", "answer", "key_path"]

ANNOUNCE, BACKUPS, VERIFY, FINALIZE = "announce", "backups", "verify", "finalize"


# --- wire format -----------------------------------------------------------------------------
def _announcements_out(anns) -> tuple[dict, dict]:
    return ({"ann_index": [a.index for a in anns], "ann_key": [bytes(a.enc_key) for a in anns]},
            {f"ann_{a.index}": np.ascontiguousarray(a.commitments) for a in anns})


def _announcements_in(fields: dict, arrays: dict) -> list[Announcement]:
    return [Announcement(int(i), bytes(key), arrays[f"ann_{i}"])
            for i, key in zip(fields["ann_index"], fields["ann_key"], strict=True)]


def _backups_out(backups, prefix: str = "bk") -> tuple[dict, dict]:
    return ({f"{prefix}_dealer": [b.dealer for b in backups], f"{prefix}_recipient": [b.recipient for b in backups]},
            {f"{prefix}_{j}": np.frombuffer(b.ciphertext, np.uint8) for j, b in enumerate(backups)})


def _backups_in(fields: dict, arrays: dict, prefix: str = "bk") -> list[Backup]:
    pairs = zip(fields.get(f"{prefix}_dealer", []), fields.get(f"{prefix}_recipient", []), strict=True)
    return [Backup(int(d), int(m), arrays[f"{prefix}_{j}"].tobytes()) for j, (d, m) in enumerate(pairs)]


def _request_out(request: DecryptionRequest, public_key: bytes) -> tuple[dict, dict]:
    fields = {"round": request.round, "quorum": list(request.quorum), "hospitals": [h for h, _ in request.blobs],
              "public_key": public_key, "blamed": [h for h, _, _ in request.blamed]}
    arrays = {f"blob_{j}": np.frombuffer(b, np.uint8) for j, (_, b) in enumerate(request.blobs)}
    for j, (_, blob, answers) in enumerate(request.blamed):
        arrays[f"blamed_{j}"] = np.frombuffer(blob, np.uint8)
        arrays[f"answers_{j}"] = np.frombuffer(_evidence_bytes(answers), np.uint8)
    return fields, arrays


def _evidence_bytes(answers) -> bytes:
    """A blamed hospital's signed range answers, as the bytes of their saved files."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        for n, ev in enumerate(answers):
            ev.save(Path(d), n)
        files = {str(p.relative_to(d)): p.read_bytes().hex() for p in sorted(Path(d).rglob("*")) if p.is_file()}
    return json.dumps(files).encode()


def _evidence_from_bytes(data: bytes) -> tuple:
    import json
    import tempfile

    from fbh.protocol import range_check as rc

    with tempfile.TemporaryDirectory() as d:
        for name, hexed in json.loads(data).items():
            path = Path(d) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes.fromhex(hexed))
        return tuple(rc.RangeEvidence.load_all(Path(d)))


def _request_in(fields: dict, arrays: dict) -> DecryptionRequest:
    blobs = tuple((str(h), arrays[f"blob_{j}"].tobytes()) for j, h in enumerate(fields["hospitals"]))
    blamed = tuple((str(h), arrays[f"blamed_{j}"].tobytes(), _evidence_from_bytes(arrays[f"answers_{j}"].tobytes()))
                   for j, h in enumerate(fields["blamed"]))
    return DecryptionRequest(int(fields["round"]), blobs, tuple(int(i) for i in fields["quorum"]), blamed)


# --- the server's side -----------------------------------------------------------------------
class GuardianNodes:
    """The server's line to the guardians' nodes.

    Args:
      run: the :class:`~fbh.flower.driver.FlowerRun` (its ``ask``).
      node_ids: guardian index (1..n) -> Flower node id.
      deployment: what every guardian needs to reach the chain (``chain_url``, ``contract``).
    """

    def __init__(self, run, node_ids: dict[int, int], deployment: dict[str, Any], *, threshold: int, k: int) -> None:
        self.run, self.nodes, self.deployment = run, dict(node_ids), dict(deployment)
        self.threshold, self.k = threshold, k
        self.public_key = b""  # the joint key set, once the ceremony published it
        self._step: tuple | None = None
        self._answers: dict[int, Any] = {}

    def stand_ins(self) -> list[RemoteGuardian]:
        return [RemoteGuardian(self, i) for i in sorted(self.nodes)]

    def call(self, key: tuple, index: int, fields: dict, arrays: dict, to: list[int], *, may_drop: bool = False):
        """Guardian ``index``'s answer to step ``key``; sends the step to every guardian of ``to``
        at its first call.  A guardian that did not answer (``may_drop``) gets a ``GuardianUnavailable``."""
        if self._step != key:
            asks = {self.nodes[i]: ({**fields, "index": i, **self.deployment, "threshold": self.threshold,
                                     "k": self.k}, arrays) for i in to}
            replies = self.run.ask(r.GUARDIAN, asks, "guardians" if key[0] != "share" else str(key[1]),
                                   may_drop=may_drop)
            gone = dict(self.run.dropped)
            self._step = key
            self._answers = {i: replies.get(self.nodes[i], GuardianUnavailable(
                f"guardian {i} (node {self.nodes[i]}): {gone.get(self.nodes[i], 'no reply')}")) for i in to}
        return self._answers[index]


class RemoteGuardian:
    """A stand-in for guardian ``index`` on its own node: one message per method, no secret."""

    def __init__(self, line: GuardianNodes, index: int) -> None:
        self.line, self.index, self.k = line, index, line.k

    def _ask(self, step: str, fields=None, arrays=None, key: tuple = ()):
        everyone = sorted(self.line.nodes)
        return self.line.call((step, *key), self.index, {"step": step, **(fields or {})}, arrays or {}, everyone)

    def announce(self) -> Announcement:
        fields, arrays = self._ask(ANNOUNCE)
        return _announcements_in(fields, arrays)[0]

    def share_backups(self, announcements) -> list[Backup]:
        fields, arrays = self._ask(BACKUPS, *_announcements_out(announcements))
        return _backups_in(fields, arrays)

    def verify_backups(self, backups, announcements) -> list[Complaint]:
        a_fields, a_arrays = _announcements_out(announcements)
        b_fields, b_arrays = _backups_out(backups)
        fields, arrays = self._ask(VERIFY, a_fields | b_fields, a_arrays | b_arrays)
        opened = _backups_in(fields, arrays, "cb")
        return [Complaint(b, bytes(shared), DleqProof.from_bytes(bytes(proof)))
                for b, shared, proof in zip(opened, fields.get("shared", []), fields.get("proof", []), strict=True)]

    def finalize(self, qualified) -> np.ndarray:
        _, arrays = self._ask(FINALIZE, {"qualified": [int(i) for i in qualified]}, key=tuple(qualified))
        return arrays["verification_keys"]

    def decrypt_share(self, request: DecryptionRequest, *, constant_time: bool = True) -> DecryptionShare:
        """My node's share of the round's recorded aggregate: :class:`Refusal` if it refused,
        :class:`GuardianUnavailable` if it did not answer."""
        fields, arrays = _request_out(request, self.line.public_key)
        key = ("share", request.round, request.quorum, tuple(h for h, _ in request.blobs), len(request.blamed))
        answer = self.line.call(key, self.index, {**fields, "step": "share", "constant_time": constant_time},
                                arrays, list(request.quorum), may_drop=True)
        if isinstance(answer, Exception):
            raise answer
        fields, arrays = answer
        if "refused" in fields:
            raise Refusal(self.index, request.round, str(fields["refused"]), str(fields["detail"]))
        return DecryptionShare.from_bytes(arrays["share"].tobytes())


# --- the guardian's node ---------------------------------------------------------------------
def key_path(folder: Path, index: int) -> Path:
    """Where the guardian of ``folder`` keeps what it holds (as ``fbh run`` keeps keys/guardian_<i>.json)."""
    return folder / f"guardian_{index}.json"


def _live(context, fields: dict[str, Any]) -> tuple[Guardian, Path]:
    """This node's guardian, from its own file (or new, at announce), bound to the chain it reads itself."""
    from fbh.protocol.messages import deployment_context, update_context

    st = site.state(context)
    if "chain_url" not in st:
        site.save_state(context, chain_url=fields["chain_url"], contract=fields["contract"])
        st = site.state(context)
    folder, index = site.node_folder(context), int(st["index"])
    if int(fields["index"]) != index:
        msg = f"this node is guardian {index}, not guardian {fields['index']}"
        raise PermissionError(msg)
    ledger = site.connect_as(st["chain_url"], st["contract"], NodeKeys(folder).account())
    kwargs = {"ledger": ledger, "context": deployment_context(ledger),
              "blob_context": lambda round_, hospital: update_context(ledger, round_, hospital)}
    path = key_path(folder, index)
    if fields["step"] == ANNOUNCE:
        if path.exists():
            msg = f"guardian {index} already took part in a key ceremony ({path}): give it a fresh folder"
            raise PermissionError(msg)
        return Guardian(index, int(fields["threshold"]), int(fields["k"]), name=f"guardian {index}", **kwargs), path
    return Guardian.load_state(path, **kwargs), path


def _blame_check(guardian: Guardian, public_key: bytes):
    """The blame path's check (the in-process guardians'), with the joint key the server names, if the
    chain published that key.  A guardian's node has no channel of its own to the hospitals' nodes
    (Flower links each node to the server only), so it admits no exclusion for silence."""
    from fbh import crypto as fc
    from fbh.protocol import blame

    public = fc.PublicKeySet.from_bytes(public_key)
    if guardian.ledger.public_key() != public.digest():
        msg = "the key set named in the request is not the one published on chain"
        raise PermissionError(msg)
    return blame.BlameCheck(guardian.ledger, lambda: public)


def answer(context, fields: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """Stage guardian: one ceremony step, or a share of the round's recorded aggregate."""
    g, path = _live(context, fields)
    step = fields["step"]
    out: tuple[dict, dict]
    if step == ANNOUNCE:
        out = _announcements_out([g.announce()])
    elif step == BACKUPS:
        out = _backups_out(g.share_backups(_announcements_in(fields, arrays)))
    elif step == VERIFY:
        complaints = g.verify_backups(_backups_in(fields, arrays), _announcements_in(fields, arrays))
        b_fields, b_arrays = _backups_out([c.backup for c in complaints], "cb")
        out = ({**b_fields, "shared": [bytes(c.shared) for c in complaints],
                "proof": [c.proof.to_bytes() for c in complaints]}, b_arrays)
    elif step == FINALIZE:
        out = ({}, {"verification_keys": g.finalize([int(i) for i in fields["qualified"]])})
    else:
        request = _request_in(fields, arrays)
        if request.blamed:
            g.blame_check = _blame_check(g, bytes(fields["public_key"]))
        try:
            share = g.decrypt_share(request, constant_time=bool(fields["constant_time"]))
            out = ({}, {"share": np.frombuffer(share.to_bytes(), np.uint8)})
        except Refusal as exc:
            out = ({"refused": exc.reason, "detail": exc.detail}, {})
    g.save_state(path)
    return out
