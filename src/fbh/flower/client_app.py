"""``fbh.flower.client_app:app``: the Flower ``ClientApp`` every fbh site runs.

Which party a node is comes from its node config (see :mod:`fbh.flower.nodes`):
``flower-supernode --node-config "role='hospital' index=0 dir='/srv/fbh'"``;
in Flower's simulation engine, from ``partition-id``.  Each message names a
stage of :mod:`fbh.flower.records`; the node answers it with its own role's step.
"""

from __future__ import annotations

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from fbh.flower import nodes
from fbh.flower import records as r

__all__ = ["app"]

app = ClientApp()


def _answer(stage: str, message: Message, context: Context) -> Message:
    fields, arrays = nodes.handle(stage, context, r.fields(message), r.arrays(message))
    return Message(r.content(fields, arrays), reply_to=message)


def _handler(stage: str):
    def handle(message: Message, context: Context) -> Message:
        return _answer(stage, message, context)

    handle.__name__ = handle.__qualname__ = stage
    return handle


# every query stage is answered the same way: by the node's own role (fbh.flower.nodes.handle)
for _stage in (r.SETUP, r.REGISTER, r.JOIN, r.DECRYPT, r.PUBLISH, r.RANGE, r.GUARDIAN):
    app.query(_stage)(_handler(_stage))


@app.train()
def train(message: Message, context: Context) -> Message:
    return _answer(r.TRAIN, message, context)


@app.evaluate()
def audit(message: Message, context: Context) -> Message:
    return _answer(r.AUDIT, message, context)
