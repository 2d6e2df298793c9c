import pytest

from services.enrichment.domain.matching.packed import PackedRows

pytestmark = pytest.mark.unit


def test_rows_come_back_as_stored_whatever_their_values() -> None:
    rows = PackedRows()
    stored = [("AB1234", "NE", None), (None, None, None), ('say "hi", \\ ok', "محمد", True), ("", "\x00\x1f", 17), ()]
    numbers = [rows.append(values) for values in stored]
    assert numbers == list(range(len(stored)))
    assert [rows.get(number) for number in numbers] == stored
    assert len(rows) == len(stored)


def test_a_row_costs_its_packed_bytes_and_one_offset() -> None:
    rows = PackedRows()
    for i in range(1_000):
        rows.append((f"{i:06d}", "NE"))
    assert rows.held_bytes == 1_000 * (len(b'["000000","NE"]') + 8)
