import pytest
from pydantic import ValidationError

from shared.db.lanes import LaneLimits
from shared.messaging.names import BULK, ROUTINE, URGENT
from shared.settings import ServiceSettings

pytestmark = pytest.mark.unit


def test_routine_and_bulk_work_share_what_the_urgent_reserve_leaves():
    assert LaneLimits(size=5, reserved_for_urgent=2, bulk=1).lower == 3


def test_each_lane_may_hold_the_connections_its_gates_let_through():
    limits = LaneLimits(size=5, reserved_for_urgent=2, bulk=4)
    assert [limits.connections(lane) for lane in (URGENT, ROUTINE, BULK)] == [5, 3, 3]
    assert LaneLimits(size=5, reserved_for_urgent=2, bulk=1).connections(BULK) == 1


def test_a_reserve_that_leaves_routine_work_no_connection_is_refused():
    with pytest.raises(ValueError, match="reserve between 1 and 4 of 5"):
        LaneLimits(size=5, reserved_for_urgent=5, bulk=1)
    with pytest.raises(ValueError, match="bulk lane needs at least one"):
        LaneLimits(size=5, reserved_for_urgent=2, bulk=0)


def test_settings_name_both_values_when_the_reserve_takes_the_whole_pool():
    with pytest.raises(ValidationError, match="database_urgent_reserve 6 with database_pool_size 6"):
        ServiceSettings(platform="NE", database_pool_size=6, database_urgent_reserve=6)
    assert ServiceSettings(platform="NE").lane_limits == LaneLimits(size=5, reserved_for_urgent=2, bulk=1)
