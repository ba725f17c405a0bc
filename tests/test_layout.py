"""The house: work already queued under the first layout's names still runs after a move."""

from __future__ import annotations

import pytest
from rq.utils import import_attribute

from addon.engine import jobs, sweeper


@pytest.mark.parametrize(
    ("dotted", "function"),
    [
        ("addon.jobs.process_marketplace", jobs.process_marketplace),
        ("addon.jobs.drain_integration", jobs.drain_integration),
        ("addon.jobs.sweep", sweeper.sweep),
    ],
)
def test_a_job_queued_under_its_old_dotted_name_still_finds_its_function(dotted, function):
    # RQ stores a job's function as a dotted path in Redis and imports it when a worker runs it.
    assert import_attribute(dotted) is function
