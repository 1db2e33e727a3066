"""Publishing a packed key set's digest: gas within publishKey + 50%, and every refusal."""

from __future__ import annotations

import pytest

from fbh import crypto as fc
from fbh.chain import RevertError

PUBLIC_KEY = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")  # G


def test_key_set_digest_costs_at_most_half_again_the_v1_key(backend, parties_factory):
    v1 = parties_factory(backend, publish=False)
    v2 = parties_factory(backend, publish=False)
    key_set = fc.KeySet.generate(k=32).public
    gas_v1 = v1.ledger.publish_key(PUBLIC_KEY).gas_used
    gas_v2 = v2.ledger.publish_key_set(key_set.digest()).gas_used
    assert gas_v2 <= 1.5 * gas_v1, (gas_v2, gas_v1)
    assert v2.ledger.public_key() == key_set.digest()
    v2.ledger.open_round(1)  # a published key set opens rounds like a v1 key


def test_key_set_refusals(backend, parties_factory):
    p = parties_factory(backend, publish=False)
    digest = fc.KeySet.generate(k=8).public.digest()
    for action, error in [
        (lambda: p.ledger.publish_key_set(bytes(32)), "ZeroDigest"),
        (lambda: p.ledger.publish_key_set(digest, sender=p.server), "NotAdmin"),
    ]:
        with pytest.raises(RevertError) as info:
            action()
        assert info.value.error_name == error
    p.ledger.publish_key_set(digest)
    with pytest.raises(RevertError) as info:
        p.ledger.publish_key_set(digest)
    assert info.value.error_name == "KeyAlreadyPublished"
    with pytest.raises(RevertError) as info:
        p.ledger.publish_key(PUBLIC_KEY)
    assert info.value.error_name == "KeyAlreadyPublished"
