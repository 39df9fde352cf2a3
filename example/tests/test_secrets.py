"""The example's secret: ci-toolkit reads API_KEY from SSM Parameter Store (/ci/test/api_key)
and gives it to the tests. It is optional, so without AWS the run goes on and this test skips;
set EXPECT_API_KEY to have it check the value."""

from __future__ import annotations

import hashlib
import os

import pytest


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_api_key_comes_from_parameter_store() -> None:
    expected = os.environ.get("EXPECT_API_KEY")
    if not expected:
        pytest.skip("EXPECT_API_KEY is not set")
    actual = os.environ.get("API_KEY")
    assert actual is not None, "API_KEY was not given to the tests"
    # Digests, so a mismatch never prints either value.
    assert _digest(actual) == _digest(expected), "API_KEY differs from EXPECT_API_KEY"
