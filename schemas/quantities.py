"""Decimal types of the engine, chosen so that no product loses its scale.

Spark types a decimal product as (p1 + p2 + 1, s1 + s2); above precision 38 it
keeps the integer digits and cuts the scale (to 6 at worst). The operand types
below keep every product under that cut:

  PER_UNIT (28,18) x EDGE_FACTOR (22,12) -> 21 integer digits -> scale 17 kept
  CONFIG_QTY (10,0) x PER_UNIT (28,18)   -> 21 integer digits -> scale 17 kept
  PER_UNIT (28,18) x PLAN_FACTOR (30,20) -> 21 integer digits -> scale 17 kept (plan)
  PLAN_UNITS (18,6) x PER_UNIT (28,18)   -> 23 integer digits -> scale 15 kept (plan)

so a path of any depth is rounded at 1e-17 per level, far inside the contract's
1e-6 tolerance. Bounds this implies: an edge factor below 1e10 and a quantity per
vehicle below 1e10 (ANSI mode turns an overflow into an error, never a wrong value).
"""
from pyspark.sql.types import DecimalType

BOM_QUANTITY = DecimalType(18, 6)
SCRAP_PCT = DecimalType(9, 4)
EDGE_FACTOR = DecimalType(22, 12)
PER_UNIT = DecimalType(28, 18)
CONFIG_QTY = DecimalType(10, 0)
DEMAND = DecimalType(38, 18)
PLAN_UNITS = DecimalType(18, 6)
TAKE_RATE = DecimalType(9, 6)
PROBABILITY = DecimalType(20, 19)      # P(rule), rounded at 1e-19
PLAN_FACTOR = DecimalType(30, 20)      # EDGE_FACTOR x PROBABILITY: PER_UNIT x PLAN_FACTOR keeps scale 17
