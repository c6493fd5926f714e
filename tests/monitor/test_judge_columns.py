"""Which drift rows are which signal: score columns are prediction drift, ids and unlisted columns are left
out of feature drift with a note; what the profile writer is asked to profile, and that what it writes for
all-distinct columns stays in range (no Spark)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from config.models import LakehouseSource
from monitor.observations import WHOLE, ColumnProfile, Scope
from monitor.profile import hll, stats
from monitor.profile.from_config import Overrides, spec_from_source
from monitor.profile.partials import GroupStats, NumericStats
from monitor.profile.profile_rows import distinct_count
from monitor.profile.spec import ColumnInfo, ProfileError, ProfileSpec, column_infos
from monitor.risk import Assessment, judge
from monitor.risk.id_columns import id_evidence, id_type
from tests.monitor.judge_support import drift, model, profile, window


def found(a: Assessment) -> list[tuple[str, str]]:
    return [(f.signal, f.column) for f in a.findings]


def notes(a: Assessment, signal: str = "feature_drift") -> list[str]:
    return [n.describe() for n in a.not_raised if n.signal == signal and n.kind == "skipped"]


def ids(rows: int = 10_000, distinct: int | None = None, data_type: str = "string", log_type: str = "BASELINE",
        column: str = "request_id", **extra: object) -> ColumnProfile:
    return profile(column, rows, log_type=log_type, data_type=data_type,
                   distinct_count=rows if distinct is None else distinct, **extra)


ID_DRIFT = (drift("request_id", js_distance=0.9), drift("age", js_distance=0.01))


def test_an_id_column_in_the_baseline_is_left_out_of_feature_drift_with_a_note() -> None:
    a = judge(model(), window(*ID_DRIFT, baseline=(ids(),)))
    assert found(a) == []
    assert notes(a) == ["feature drift on `request_id`: looks like an id (distinct = rows = 10,000 in the baseline): "
                        "left out of feature drift; list it in signals.feature_drift.columns to judge it"]


def test_an_id_column_listed_in_columns_is_judged() -> None:
    m = model(feature_drift={"columns": ["request_id", "age"]})
    a = judge(m, window(*ID_DRIFT, baseline=(ids(),)))
    assert found(a) == [("feature_drift", "request_id")]
    assert notes(a) == []


def test_exclude_ids_off_judges_every_feature() -> None:
    a = judge(model(feature_drift={"exclude_ids": False}), window(*ID_DRIFT, baseline=(ids(),)))
    assert found(a) == [("feature_drift", "request_id")]


@pytest.mark.parametrize(("row", "expected"), [
    (ids(49), None),  # too few rows: a tiny window or baseline says nothing
    (ids(50), "distinct = rows = 50"),
    (ids(10_000, 9_700, "bigint"), "distinct 9,700 of 10,000 rows"),  # a HyperLogLog estimate below the rows
    (ids(10_000, 10_180, "LongType()"), "distinct 10,180 of 10,000 rows"),  # ... or above them
    (ids(10_000, 8_000, "bigint"), None),  # a wide-range integer feature with repeats
    (ids(10_000, 10_000, "double"), None),  # continuous values are all distinct: never an id
    (ids(10_000, 10_000, None), None),  # unknown type
    (ids(20_000, 10_001, frequent_items=(("a", 1), ("b", 1))), "no value occurs twice in 20,000 rows"),  # capped
    (ids(1_000, 1_000, nulls=400), "distinct 1,000 of 600 rows"),  # nulls are not values
    (ids(1_000, 3, "string"), None),
])
def test_id_evidence(row: ColumnProfile, expected: str | None) -> None:
    assert id_evidence(row, 50) == expected


def test_the_baseline_decides_over_the_window_and_tiny_windows_do_not_trigger() -> None:
    not_ids = ids(5_000, 40, "bigint")
    window_ids = ids(200, log_type="INPUT")
    assert notes(judge(model(), window(*ID_DRIFT, window_ids, baseline=(not_ids,)))) == []
    # without a baseline row the window's own row decides, when it has enough rows
    assert "in this window" in notes(judge(model(), window(*ID_DRIFT, window_ids)))[0]
    assert not any("an id" in n for n in notes(judge(model(), window(*ID_DRIFT, ids(30, log_type="INPUT")))))
    # the setting's own minimum
    assert notes(judge(model(feature_drift={"id_min_rows": 500}), window(*ID_DRIFT, window_ids))) == []


def test_slices_of_an_id_column_are_left_out_too_with_one_note() -> None:
    scope = Scope("contract", "monthly")
    m = model(lakehouse={"slices": ["contract"]})
    a = judge(m, window(*ID_DRIFT, drift("request_id", scope, js_distance=0.9),
                        drift("request_id", drift_type="CONSECUTIVE", js_distance=0.9), baseline=(ids(),)))
    assert found(a) == [] and len(notes(a)) == 1


def test_features_limit_what_is_judged_with_one_note() -> None:
    m = model(lakehouse={"features": ["age"], "prediction_proba_column": "score"})
    rows = [drift(c, js_distance=0.9) for c in ("age", "zip", "region", "score", "prediction")]
    a = judge(m, window(*rows))
    assert sorted(found(a)) == [("feature_drift", "age"), ("prediction_drift", "prediction"),
                                ("prediction_drift", "score")]
    assert notes(a) == ["feature drift on the table: 2 columns are not in sources.lakehouse.features, "
                        "left out of feature drift: region, zip"]


def test_score_columns_are_prediction_drift_and_an_unprofiled_score_is_said() -> None:
    m = model(lakehouse={"prediction_proba_column": "p_churn", "score_columns": ["margin"]})
    a = judge(m, window(drift("margin", js_distance=0.25), drift("age", js_distance=0.01)))
    assert found(a) == [("prediction_drift", "margin")]
    assert notes(a, "prediction_drift") == [
        "prediction drift on `p_churn`: no rows for it in main.ml.t_drift_metrics: the model's score is not "
        "monitored; profile it (`lakewarden profile` does) or fix sources.lakehouse.prediction_proba_column / "
        "score_columns"]
    # a window without drift rows at all is another matter (no baseline, first window): nothing said here
    assert notes(judge(m, window(profile("age"))), "prediction_drift") == []


def test_features_and_scores_are_validated() -> None:
    with pytest.raises(ValidationError, match="'label' is an output column"):
        LakehouseSource(table="main.ml.t", label_column="label", features=["age", "label"])
    with pytest.raises(ValidationError, match="'ts' is the timestamp column"):
        LakehouseSource(table="main.ml.t", timestamp_column="ts", features=["ts"])
    source = LakehouseSource(table="main.ml.t", prediction_proba_column="p", score_columns=["m", "p"])
    assert source.score_column_names == ("p", "m")
    assert source.outcome_columns == ("prediction", "p", "m")


SCHEMA = {"ts": "timestamp", "age": "double", "zip": "string", "request_id": "string", "prediction": "int",
          "p": "double", "margin": "float", "label": "int"}


def test_the_writer_profiles_scores_and_only_the_listed_features() -> None:
    source = LakehouseSource(table="main.ml.t", timestamp_column="ts", label_column="label",
                             prediction_proba_column="p", score_columns=["margin"], features=["age"])
    spec = spec_from_source(source, list(SCHEMA), Overrides(), "1 hour")
    assert spec.monitored_columns == ("age", "prediction", "p", "margin", "label")
    infos, skipped = column_infos(spec, SCHEMA)
    assert [(i.name, i.numeric, i.categorical) for i in infos][2:4] == [("p", True, False), ("margin", True, False)]
    assert skipped == ()
    every = spec_from_source(source.model_copy(update={"features": ()}), list(SCHEMA), Overrides(), "1 hour")
    assert every.feature_cols == ("age", "zip", "request_id")  # ids are profiled: the judge leaves them out


def test_a_configured_score_column_missing_from_the_table_is_an_error_naming_it() -> None:
    source = LakehouseSource(table="main.ml.t", timestamp_column="ts", prediction_proba_column="p_churn")
    spec = spec_from_source(source, list(SCHEMA), Overrides(), "1 hour")
    with pytest.raises(ProfileError, match=r"probability \(score\) column 'p_churn' not in main\.ml\.t .*fix"):
        column_infos(spec, SCHEMA)


def test_specs_without_scores_keep_their_hashes_and_scores_change_them() -> None:
    spec = ProfileSpec(table="main.s.t", baseline_table="main.s.b", timestamp_col="ts", granularity="1 hour",
                       feature_cols=("a", "b"), prediction_col="prediction", label_col="label")
    # the hashes before scores were profiled: upgrading rewrites nothing for a model without scores
    assert (spec.fingerprint(), spec.reference_key()) == ("4f29316f587e04b01b2c3c3972d94dbd",
                                                          "64a071aaca7f5a8f90edac9f7c679a27")
    scored = ProfileSpec(table="main.s.t", baseline_table="main.s.b", timestamp_col="ts", granularity="1 hour",
                         feature_cols=("a", "b"), prediction_col="prediction", label_col="label",
                         prediction_proba_col="p")
    assert scored.fingerprint() != "c4d6d312e135e0d81eb91f593a9b09eb"  # windows are profiled again, with the score
    assert scored.reference_key() != "4d65c0d50e82cacd30f112d82c8249eb"  # and so is the baseline


def test_id_types() -> None:
    assert [id_type(t) for t in ("bigint", "int", "string", "varchar(36)", "IntegerType()", "double", "boolean",
                                 None)] == [True, True, True, True, True, False, False, False]
    assert WHOLE.whole_table


def test_all_distinct_and_disjoint_columns_stay_in_the_ranges_of_the_contract() -> None:
    """Scores and ids are all-distinct and, against the baseline, disjoint: what they write stays in range."""
    values = np.random.default_rng(2).normal(size=3_000)
    assert hll.estimate(hll.registers(values)) == 3_023  # the estimate says more values than there are
    group = GroupStats(rows=3_000, columns={"score": NumericStats(registers=hll.registers(values))})
    assert distinct_count(ColumnInfo("score", "double", numeric=True, categorical=False), group) == 3_000
    assert stats.tv_distance(np.array([1.0] + [0.0] * 6), np.array([0.0] + [1.0] * 6)) == 1.0  # was 1 + 2e-16
    assert stats.ks_from_bins(np.array([1.0] * 9 + [0.0] * 9), np.array([0.0] * 9 + [1.0] * 9)).statistic == 1.0
