"""The one assertion every refusal test of the registry makes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fbh.chain import RevertError


def expect_revert(error_name: str, action: Callable[[], object]) -> RevertError:
    """Run ``action``; it must revert with the contract's custom error ``error_name``."""
    with pytest.raises(RevertError) as info:
        action()
    assert info.value.error_name == error_name, str(info.value)
    return info.value
