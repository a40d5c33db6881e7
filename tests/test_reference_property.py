"""Property: on random and on generated data, the Spark engine equals the path-by-path reference on every key."""
import time
from datetime import date

import pytest

from adapters import lake
from pipeline import generate, realistic
from schemas import names as n
from tests import reference
from tests.builders import assert_matches, demand_of, rows_of, without_auto_broadcast
from tests.random_cases import random_case
from transforms.engine import order_demand


@pytest.mark.parametrize("seed, broadcast_edge_rows", [(1, 2_000_000), (2, 2_000_000), (3, 2_000_000),
                                                      (4, 2_000_000), (1, 0)])
def test_random_boms_match_reference(spark, seed, broadcast_edge_rows):
    """broadcast_edge_rows 0: a BOM too large to broadcast is shuffle-joined at every level, same demand."""
    case = random_case(seed)
    with without_auto_broadcast(spark, broadcast_edge_rows == 0):
        result = order_demand(case.frames(spark), run_id="prop", broadcast_edge_rows=broadcast_edge_rows)
    assert result.problems.count() == 0
    expected = reference.explode(case.rows())
    assert expected, "the random case should produce some demand"
    assert_matches(demand_of(result.part_demand), expected)


@pytest.mark.parametrize("seed, start", [(11, date(2026, 1, 5)), (12, date(2026, 2, 25))])
def test_generated_network_matches_reference(spark, tmp_path, seed, start):
    opts = generate.Options(out=str(tmp_path / "source"), orders=300, seed=seed, start_date=start, days=28)
    generate.generate(spark, opts)
    tables = lake.read_source(spark, opts.out)
    # order demand only: enumerating every car of 18 plan months is too slow for the reference here;
    # tests/test_plan.py checks plan demand against it on smaller networks
    tables[n.VOLUME_PLAN] = tables[n.VOLUME_PLAN].limit(0)
    result = order_demand(tables, run_id="prop")
    assert result.problems.count() == 0
    rows = {t: rows_of(df) for t, df in tables.items()}
    assert_matches(demand_of(result.part_demand), reference.explode(rows))
    assert result.signatures < result.orders == 300
    assert len(result.levels) >= 6


def test_realistic_profile_matches_reference(spark, tmp_path):
    """Issue 14: the realistic profile (every car its own signature, 80-150 codes per car, hundreds of rules
    per model, a shared-sub-assembly DAG) on a small set, every key against the path-by-path reference."""
    opts = generate.Options(out=str(tmp_path / "source"), orders=100, seed=5, start_date=date(2026, 3, 2), days=28,
                            profile="realistic", shape=realistic.Shape(positions=1000, depth=6))
    generate.generate(spark, opts)
    tables = lake.read_source(spark, opts.out)
    tables[n.VOLUME_PLAN] = tables[n.VOLUME_PLAN].limit(0)   # plan: tests/test_plan.py (2^250 cars per month here)
    result = order_demand(tables, run_id="prop")
    assert result.problems.count() == 0
    rows = {t: rows_of(df) for t, df in tables.items()}
    assert min(len(o[n.OPTION_CODES]) for o in rows[n.PRODUCTION_ORDERS]) >= 80
    assert result.signatures == result.orders == 100, "every car its own signature"
    started = time.monotonic()
    expected = reference.explode(rows)
    print(f"reference: {time.monotonic() - started:.1f} s for {len(expected)} keys")
    assert_matches(demand_of(result.part_demand), expected)
