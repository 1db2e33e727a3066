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


@app.query("setup")
def setup(message: Message, context: Context) -> Message:
    return _answer(r.SETUP, message, context)


@app.query("register")
def register(message: Message, context: Context) -> Message:
    return _answer(r.REGISTER, message, context)


@app.query("join")
def join(message: Message, context: Context) -> Message:
    return _answer(r.JOIN, message, context)


@app.query("decrypt")
def decrypt(message: Message, context: Context) -> Message:
    return _answer(r.DECRYPT, message, context)


@app.query("publish")
def publish(message: Message, context: Context) -> Message:
    return _answer(r.PUBLISH, message, context)


@app.query("range")
def range_proof(message: Message, context: Context) -> Message:
    return _answer(r.RANGE, message, context)


@app.query("guardian")
def guardian(message: Message, context: Context) -> Message:
    return _answer(r.GUARDIAN, message, context)


@app.train()
def train(message: Message, context: Context) -> Message:
    return _answer(r.TRAIN, message, context)


@app.evaluate()
def audit(message: Message, context: Context) -> Message:
    return _answer(r.AUDIT, message, context)
