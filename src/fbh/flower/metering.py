"""Bytes each node sends and receives, counted at the ServerApp's ``Grid``.

:class:`MeteredGrid` wraps the ``Grid`` a ``ServerApp`` is given and counts the payload of every
message: the serialized objects Flower ships for it (the message, its records and their array
chunks, as ``flwr.supercore.inflatable`` deflates them), without HTTP/TLS framing. Messages to a node count as its
"down" bytes, replies from it as "up". The same meter serves fbh's own ServerApp and Flower's
SecAgg+ workflow, so ``fbh bench flower`` compares like with like; Flower's own per-run
``network-traffic`` counter (``flwr ls``) is reported next to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from flwr.app import Message
from flwr.serverapp import Grid
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects

__all__ = ["MeteredGrid", "payload_bytes"]


def payload_bytes(message: Message) -> int:
    """Bytes of every object Flower ships for ``message``: the message, its records, their array chunks."""
    return sum(len(obj.deflate()) for obj in get_all_nested_objects(message).values())


class MeteredGrid(Grid):
    """A ``Grid`` that forwards everything to ``inner`` and counts payload bytes per node.

    Attributes:
        down: node id → bytes the server sent to that node.
        up: node id → bytes that node sent back.
        errors: node id → error replies (a ClientApp that raised, a node that went away).
    """

    def __init__(self, inner: Grid) -> None:
        self.inner = inner
        self.down: dict[int, int] = defaultdict(int)
        self.up: dict[int, int] = defaultdict(int)
        self.errors: dict[int, int] = defaultdict(int)

    def _sent(self, messages: Iterable[Message]) -> list[Message]:
        messages = list(messages)
        for m in messages:
            self.down[m.metadata.dst_node_id] += payload_bytes(m)
        return messages

    def _received(self, replies: Iterable[Message]) -> list[Message]:
        replies = list(replies)
        for m in replies:
            self.up[m.metadata.src_node_id] += payload_bytes(m)
            self.errors[m.metadata.src_node_id] += m.has_error()
        return replies

    def totals(self) -> dict[str, Any]:
        """Per-node and summed bytes, JSON-ready."""
        nodes = sorted(set(self.down) | set(self.up))
        return {"down": {str(n): self.down[n] for n in nodes}, "up": {str(n): self.up[n] for n in nodes},
                "down_total": sum(self.down.values()), "up_total": sum(self.up.values()),
                "error_replies": sum(self.errors.values())}

    # ---- Grid, forwarded
    def set_run(self, run: Any) -> None:
        self.inner.set_run(run)

    @property
    def run(self) -> Any:
        return self.inner.run

    def create_message(self, *args: Any, **kwargs: Any) -> Message:
        return self.inner.create_message(*args, **kwargs)

    def get_node_ids(self) -> Iterable[int]:
        return self.inner.get_node_ids()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self.inner.push_messages(self._sent(messages))

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return self._received(self.inner.pull_messages(message_ids))

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        return self._received(self.inner.send_and_receive(self._sent(messages), timeout=timeout))
