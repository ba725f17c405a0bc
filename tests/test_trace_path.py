"""The path of one purchase, traced by ``bench/trace_path.py``: few loops between modules."""

from __future__ import annotations

from bench.trace_path import MAX_VISITS_BACK, Trace, trace_one_purchase


def test_a_visit_back_is_a_crossing_against_the_pairs_last_direction():
    trace = Trace()
    for caller, callee in [("a", "b"), ("a", "b"), ("b", "a"), ("a", "c"), ("a", "b")]:
        trace.cross(caller, callee)
    assert trace.visits_back == {("a", "b"): 2}
    assert trace.crossings[("a", "b")] == 3


def test_one_purchase_goes_from_emit_to_its_log_entry_without_loops():
    trace = trace_one_purchase()
    print(trace.report())
    # emit, the expansion, the provider call and the outcome write are all on the path
    assert {"addon.extension", "addon.providers.icontact.client"} <= set(trace.modules)
    assert max(trace.visits_back.values(), default=0) <= MAX_VISITS_BACK
