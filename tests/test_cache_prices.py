"""A cache price not given is the input price, in what a request is charged, in what its
budget reserves beforehand, and at a batch's discount; an explicit 0 stays 0."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard import ir
from switchboard.config import Pricing
from switchboard.tenancy.usage import cost_nusd, discounted, worst_case_nusd

UNSET = Pricing(input=3.0, output=15.0)
FREE_CACHE = Pricing(input=3.0, output=15.0, cache_read=0, cache_write=0)
# A cache read dearer than fresh input: odd, but the reservation must still cover it.
ODD = Pricing(input=1.0, output=2.0, cache_read=4.0)


def test_a_cache_price_not_given_is_the_input_price_and_zero_stays_zero() -> None:
    usage = ir.Usage(input_tokens=10, cache_read_tokens=1000, cache_write_tokens=100)
    assert cost_nusd(UNSET, usage) == 3_000 * 1110
    assert cost_nusd(FREE_CACHE, usage) == 3_000 * 10
    assert (UNSET.cache_read_price, UNSET.cache_write_price) == (3.0, 3.0)
    assert (FREE_CACHE.cache_read_price, FREE_CACHE.cache_write_price) == (0.0, 0.0)


def test_a_batch_discount_keeps_an_unset_cache_price_following_the_input_price() -> None:
    half = discounted(UNSET, 0.5)
    assert (half.input, half.cache_read_price, half.cache_write_price) == (1.5, 1.5, 1.5)
    assert discounted(FREE_CACHE, 0.5).cache_read_price == 0.0
    assert discounted(Pricing(input=2.0, cache_read=0.2), 0.5).cache_read_price == 0.1


@pytest.mark.parametrize("pricing", [UNSET, FREE_CACHE, ODD, Pricing(cache_write=5.0)])
@given(
    fresh=st.integers(0, 10**6),
    read=st.integers(0, 10**6),
    written=st.integers(0, 10**6),
    output=st.integers(0, 10**5),
)
def test_the_reservation_covers_any_split_of_the_input(
    pricing: Pricing, fresh: int, read: int, written: int, output: int
) -> None:
    """However the upstream splits the input among fresh, cache-read and cache-written tokens,
    the settled cost is within what admission reserved for that much input and output."""
    usage = ir.Usage(fresh, output, read, written)
    assert cost_nusd(pricing, usage) <= worst_case_nusd(pricing, fresh + read + written, output)
