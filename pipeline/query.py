"""Rendering of a planner's questions (`bomflow demand`, `exceptions`, `peg`): a table to read, JSON or CSV."""
import csv
import io
import json
from decimal import Decimal

from schemas import names as n

COLUMNS = (n.PLANT_ID, n.PART_ID, n.SUPPLIER_ID, n.BUCKET, n.BUCKET_START, n.SOURCE, n.QUANTITY, n.UNIT, n.RUN_ID)
EXCEPTION_COLUMNS = ("kind", n.PLANT_ID, n.PART_ID, n.MODEL_ID, "bucket_start", n.QUANTITY, "previous_quantity",
                     n.UNIT, "message", n.RUN_ID)
PEG_COLUMNS = (n.ORDER_ID, n.MODEL_ID, n.PRODUCTION_DATE, n.DEMAND_DATE, "order_quantity", n.QUANTITY)


def _cells(rows: list[dict], columns: tuple) -> list[dict]:
    return [{c: ("" if r.get(c) is None else str(r[c])) for c in columns} for r in rows]


def _plain(values: list[dict], fmt: str, columns: tuple) -> str | None:
    """cells as `json` (a list of objects, quantities as exact decimal strings) or `csv`; None for `table`."""
    if fmt == "json":
        return json.dumps(values, indent=1) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(values)
        return out.getvalue()
    return None


def render_exceptions(rows: list[dict], fmt: str) -> str:
    """Exception messages: `table` is one line each, kind, plant, part, date, then the message."""
    plain = _plain(_cells(rows, EXCEPTION_COLUMNS), fmt, EXCEPTION_COLUMNS)
    if plain is not None:
        return plain
    if not rows:
        return "no exceptions in the served run\n"
    lines = [f"{r['kind']:<8} {r[n.PLANT_ID]:<6} {r[n.PART_ID]:<24} {r['bucket_start']}  {r['message']}" for r in rows]
    return "\n".join([*lines, f"{len(rows)} exception(s) of run {rows[0][n.RUN_ID]}"]) + "\n"


def render(rows: list[dict], fmt: str) -> str:
    """Demand rows as `table` (aligned, a total line per plant and part), `json` or `csv`."""
    values = _cells(rows, COLUMNS)
    plain = _plain(values, fmt, COLUMNS)
    if plain is not None:
        return plain
    if not rows:
        return "no demand for these filters in the published run\n"
    shown = [c for c in COLUMNS if c != n.RUN_ID]
    widths = {c: max(len(c), *(len(v[c]) for v in values)) for c in shown}
    lines = ["  ".join(c.ljust(widths[c]) for c in shown)]
    total, key = 0, None
    for row, v in zip(rows, values):
        if key is not None and (row[n.PLANT_ID], row[n.PART_ID]) != key:
            lines.append(f"  total {key[0]} {key[1]}: {total}")
            total = 0
        key = (row[n.PLANT_ID], row[n.PART_ID])
        total += row[n.QUANTITY]
        lines.append("  ".join(v[c].rjust(widths[c]) if c == n.QUANTITY else v[c].ljust(widths[c]) for c in shown))
    lines.append(f"  total {key[0]} {key[1]}: {total}")
    lines.append(f"run {rows[0][n.RUN_ID]} (served by the Solr alias)")
    return "\n".join(lines) + "\n"


def number(d: Decimal) -> str:
    """An exact decimal as a planner writes it: no exponent, no trailing zeros."""
    return format(d.normalize(), "f")


def render_peg(pegging, fmt: str) -> str:
    """A week's pegging (pipeline/peg.py): `table` is the orders and how they add up; json/csv the order rows."""
    plain = _plain(_cells(pegging.orders, PEG_COLUMNS), fmt, PEG_COLUMNS)
    return plain if plain is not None else "\n".join(peg_lines(pegging)) + "\n"


def peg_lines(p) -> list[str]:
    """A planner's reading: the orders, then how they add up to the week's demand."""
    head = f"{p.part} at {p.plant}, week of {p.week} (ISO {p.week.isocalendar()[0]}-W{p.week.isocalendar()[1]:02d}), run {p.run_id}"
    if not p.orders and not p.plan_demand and not p.carried:
        return [head, "  no demand in that week"]
    out = [head, f"  {'order':<14} {'model':<6} {'production':<11} {'needed':<11} {'cars':>5}  quantity"]
    out += [f"  {r[n.ORDER_ID]:<14} {r[n.MODEL_ID]:<6} {r[n.PRODUCTION_DATE]!s:<11} {r[n.DEMAND_DATE]!s:<11} "
            f"{r['order_quantity']:>5}  {number(r[n.QUANTITY])}" for r in p.orders]
    out.append(f"  {len(p.orders)} order(s): {number(p.pegged)} = the week's order demand in part_demand")
    if p.plan_demand:
        out.append(f"  plus plan demand {number(p.plan_demand)} (volume plan beyond the orders: no orders behind it)")
    for run_id, quantity in sorted(p.carried.items()):
        out.append(f"  plus {number(quantity)} carried from run {run_id} for a blocked model: bomflow peg --run {run_id}")
    return out
