"""Table names, column names and the fixed vocabularies of the data contract."""

# Input tables (source/<table>/)
PLANTS = "plants"
VEHICLE_MODELS = "vehicle_models"
PARTS = "parts"
BOM_ITEMS = "bom_items"
PRODUCTION_ORDERS = "production_orders"
VOLUME_PLAN = "volume_plan"
OPTION_TAKE_RATES = "option_take_rates"

# Output tables (lake/<table>/)
PART_DEMAND = "part_demand"
DEMAND_SUMMARY = "demand_summary"
QUARANTINE = "quarantine"
EXCEPTIONS = "exceptions"       # a night's exception messages for planners (transforms/exceptions.py)
ORDER_SIGNATURES = "order_signatures"   # pegging: each used order's variant signature (transforms/pegging.py)
SIGNATURES = "signatures"               # pegging: each exploded signature's plant, model, first date and true rules
RUNS = "runs"

# Columns
PLANT_ID = "plant_id"
MODEL_ID = "model_id"
PART_ID = "part_id"
PART_TYPE = "part_type"
UNIT = "unit"
LEAD_TIME_DAYS = "lead_time_days"
SUPPLIER_ID = "supplier_id"
BOM_ITEM_ID = "bom_item_id"
PARENT_ID = "parent_id"
CHILD_ID = "child_id"
QUANTITY = "quantity"
SCRAP_PCT = "scrap_pct"
VALID_FROM = "valid_from"
VALID_TO = "valid_to"
RULE = "rule"
ORDER_ID = "order_id"
PRODUCTION_DATE = "production_date"
OPTION_CODES = "option_codes"
RUN_ID = "run_id"
SOURCE = "source"
DEMAND_DATE = "demand_date"
ORDER_DATE = "order_date"
BUCKET = "bucket"
BUCKET_START = "bucket_start"
CARRIED_FROM_RUN_ID = "carried_from_run_id"   # set on rows kept from an earlier run for a blocked model
MONTH_START = "month"          # volume_plan / option_take_rates: first day of the month
PLANNED_UNITS = "planned_units"
OPTION_CODE = "option_code"
FAMILY = "family"
TAKE_RATE = "take_rate"

# Engine-internal columns
CONFIG_ID = "config_id"
CONFIG_QUANTITY = "config_quantity"
NODE_ID = "node_id"
NODE_TYPE = "node_type"
OFFSET_DAYS = "offset_days"
PER_UNIT = "per_unit"          # quantity per built vehicle along the paths merged so far
EDGE_FACTOR = "edge_factor"    # quantity * (1 + scrap_pct/100)
PARENT_OFFSET = "parent_offset_days"  # lead time the parent adds to its children's offset
RULE_TERMS = "rule_terms"      # the rule in disjunctive normal form
RULE_PROBABILITY = "rule_probability"  # P(rule) under a (model, month)'s take rates
LEVEL = "level"
EPOCH = "epoch"                # index of the effectivity interval a production date falls in (per model)
TRUE_RULES = "true_rules"      # the rules of a model that hold for an option set (a variant signature)
RULE_NUMBER = "rule_number"    # a valid rule key's number in one run: 1.. in key order, null for no rule
RULE_NUMBERS = "rule_numbers"  # true_rules as rule numbers (ascending): the order explosion's frontier key
SIGNATURE_ID = "signature_id"  # a signature's deterministic key: xxhash64(plant, model, epoch, true rules)

# part_type values; MODEL is the type of a BOM root (a vehicle model)
ASSEMBLY = "assembly"
PHANTOM = "phantom"
PURCHASED = "purchased"
MODEL = "model"
PART_TYPES = (ASSEMBLY, PHANTOM, PURCHASED)

# demand source values
SOURCE_ORDERS = "orders"
SOURCE_PLAN = "plan"

# demand_summary buckets
DAY = "day"
WEEK = "week"
MONTH = "month"
BUCKETS = (DAY, WEEK, MONTH)

# UN/ECE Rec. 20 unit codes the contract allows
UNITS = ("H87", "KGM", "MTR", "LTR", "MTK")

# run status and gate values
SUCCEEDED = "succeeded"
FAILED = "failed"
RESTORED = "restored"          # a runs row of `bomflow restore`: it serves the restored run's state
MAINTAINED = "maintained"      # a runs row of `bomflow maintain`: same state, new table versions
SERVING = (SUCCEEDED, RESTORED, MAINTAINED)   # rows whose committed versions are what readers see
PASSED = "passed"

# quarantine reasons (contract §Bad input)
DUPLICATE_KEY = "duplicate_key"
MISSING_KEY = "missing_key"
UNKNOWN_PART_TYPE = "unknown_part_type"
PURCHASED_WITHOUT_SUPPLIER = "purchased_without_supplier"
INVALID_LEAD_TIME = "invalid_lead_time"   # negative or null
UNKNOWN_PARENT = "unknown_parent"
UNKNOWN_CHILD = "unknown_child"
PURCHASED_PARENT = "purchased_parent"
NON_POSITIVE_QUANTITY = "non_positive_quantity"
SCRAP_OUT_OF_RANGE = "scrap_out_of_range"
INVALID_VALIDITY = "invalid_validity"
INVALID_RULE = "invalid_rule"
CYCLE = "cycle"
UNKNOWN_PLANT = "unknown_plant"
UNKNOWN_MODEL = "unknown_model"
INVALID_QUANTITY = "invalid_quantity"
MISSING_DATE = "missing_date"
MALFORMED_OPTION_CODE = "malformed_option_code"
MODEL_BLOCKED = "model_blocked"
# beyond the contract's list (docs/data-quality.md): bounds the engine needs to be exact
UNKNOWN_UNIT = "unknown_unit"                       # unit not one of UNITS
DATE_OUT_OF_RANGE = "date_out_of_range"             # a date outside [DATE_MIN, DATE_MAX]
QUANTITY_TOO_LARGE = "quantity_too_large"           # quantity x (1 + scrap) of one edge >= 1e10
MISSING_OPTION_CODES = "missing_option_codes"       # option_codes null (no options is an empty list)
UNITS = ("H87", "KGM", "MTR", "LTR", "MTK")         # contract: UN/ECE Rec. 20 codes
# quarantine reasons of the long-term plan (volume_plan, option_take_rates)
INVALID_MONTH = "invalid_month"                     # null or not the first day of a month
INVALID_PLANNED_UNITS = "invalid_planned_units"     # null or negative
TAKE_RATE_OUT_OF_RANGE = "take_rate_out_of_range"   # null or outside [0, 1]
FAMILY_OVER_ONE = "family_over_one"                 # take rates of one family sum above 1
TAKE_RATES_QUARANTINED = "take_rates_quarantined"   # plan row whose (model, month) lost take-rate rows
