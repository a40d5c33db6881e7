"""Rendering of a planner's demand query (`bomflow demand`): a table to read, JSON or CSV to process."""
import csv
import io
import json

from schemas import names as n

COLUMNS = (n.PLANT_ID, n.PART_ID, n.SUPPLIER_ID, n.BUCKET, n.BUCKET_START, n.SOURCE, n.QUANTITY, n.UNIT, n.RUN_ID)


def render(rows: list[dict], fmt: str) -> str:
    """rows as `table` (aligned, a total line per plant and part), `json` (a list of objects, the
    quantity as its exact decimal string) or `csv` (a header, then a line per row)."""
    values = [{c: ("" if r.get(c) is None else str(r[c])) for c in COLUMNS} for r in rows]
    if fmt == "json":
        return json.dumps(values, indent=1) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(values)
        return out.getvalue()
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
