"""Rows turned into the column arrays of an unnest insert."""

import pytest

from shared.db.columns import columns

pytestmark = pytest.mark.unit


def test_rows_become_one_list_per_column_in_row_order():
    assert columns([(1, "a", None), (2, "b", "x")]) == [[1, 2], ["a", "b"], [None, "x"]]
    assert columns(iter([(1, "a")])) == [[1], ["a"]]


def test_no_rows_give_as_many_empty_columns_as_asked_and_ragged_rows_are_refused():
    assert columns([]) == []
    assert columns([], 3) == [[], [], []]
    with pytest.raises(ValueError):
        columns([(1, "a"), (2,)])
