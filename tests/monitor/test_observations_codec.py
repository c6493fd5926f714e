"""A window survives JSON exactly, NaN and infinity included: stored inputs replay the same decision."""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from monitor.observations import ColumnDrift, ColumnProfile, Scope
from monitor.observations_codec import window_from_json, window_to_json
from tests.monitor.judge_support import ops, window

values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))


@given(st.dictionaries(st.sampled_from(["js_distance", "ks_pvalue", "custom.x"]), values), values)
def test_round_trip_through_json_text(stats: dict[str, float | None], metric: float | None) -> None:
    w = window(ColumnDrift("age", "BASELINE", stats, Scope("region", "eu", "v1"), "double", 1, 2),
               ColumnProfile(":table", 10, 1, 10.0, Scope(model_id="*"), "INPUT", "x", 0, 3, 4,
                             (("a", 3),), ("age",), {"accuracy_score": metric}),
               baseline=(ColumnProfile("age", 5, None, None, log_type="BASELINE"),), operations=ops())
    back = window_from_json(json.loads(json.dumps(window_to_json(w), allow_nan=False)))
    assert _same(back.drift[0].statistics, stats)
    assert _same(back.profile[0].metrics, {"accuracy_score": metric})
    assert back.drift[0].scope == w.drift[0].scope and back.profile[0].frequent_items == (("a", 3),)
    assert back.baseline == w.baseline and back.operations == w.operations
    assert (back.window_start, back.version, back.stream) == (w.window_start, w.version, w.stream)


def _same(a: dict[str, float | None], b: dict[str, float | None]) -> bool:
    def norm(v: float | None) -> object:
        return "nan" if v is not None and math.isnan(v) else v

    return {k: norm(v) for k, v in a.items()} == {k: norm(v) for k, v in b.items()}
