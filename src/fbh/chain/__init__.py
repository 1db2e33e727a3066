"""fbh.chain: the Ethereum audit trail of federated rounds.

``connect(spec)`` opens a :class:`Ledger` on an in-process EVM
(``"embedded"``), a local anvil node (``"anvil"``) or any JSON-RPC URL;
``restore(state_dir)`` brings a finished run's chain back for audit.
``commitment(blob)`` is the on-chain digest of an exact byte string.
"""

from fbh.chain.connection import BACKENDS, connect, restore
from fbh.chain.errors import ChainConfigError, ChainError, ChainStateError, RevertError
from fbh.chain.hashing import commitment, recover_update_signer, sign_update
from fbh.chain.keys import KeySource, write_keystore
from fbh.chain.records import (
    CancelReason,
    ParticipantRecord,
    RejectionRecord,
    RejectReason,
    Role,
    RoundRecord,
    RoundStatus,
    TxResult,
    UpdateRecord,
)
from fbh.chain.registry import Ledger, load_artifact

__all__ = [
    "BACKENDS",
    "CancelReason",
    "ChainConfigError",
    "ChainError",
    "ChainStateError",
    "KeySource",
    "Ledger",
    "ParticipantRecord",
    "RejectReason",
    "RejectionRecord",
    "RevertError",
    "Role",
    "RoundRecord",
    "RoundStatus",
    "TxResult",
    "UpdateRecord",
    "commitment",
    "connect",
    "load_artifact",
    "recover_update_signer",
    "restore",
    "sign_update",
    "write_keystore",
]
