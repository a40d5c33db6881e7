"""bomflow export catenax: supplier demand of the last successful run as Catena-X documents.

    bomflow export catenax --lake DIR --out DIR [--customer-bpnl BPNL] [--run RUN]

writes OUT/<run_id>/ with
  week_based_material_demand/<supplier BPNL>/<part>.json   WeekBasedMaterialDemand 3.0.1, one per
      (supplier, customer, materialNumberCustomer), a weekly series per plant (BPNS);
  short_term_material_demand/<supplier BPNL>/<part>.json   ShortTermMaterialDemand 1.0.0, daily
      order demand of the first weeks;
  manifest.json                                            what was written and what was left out, and why.
Every document is validated against the shipped JSON schema and the CX-0128
rules the schema does not encode before anything is written; one invalid
document fails the export (exit 2) with its file and field path. Documents
are built in a temporary folder and moved into place only when all are valid.
materialDemandId and materialGlobalAssetId (UUIDv4) are kept per material in the
Delta table LAKE/catenax_ids, so they stay the same across runs; a material that
was sent before and has no demand now is sent again with explicit zero weeks.
"""
import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from itertools import groupby
from pathlib import Path
from urllib.parse import quote

from jsonschema import Draft4Validator
from pyspark.sql import SparkSession
from pyspark.sql.types import StringType, StructField, StructType

from adapters import lake as lk
from pipeline.errors import BomflowError
from schemas import bpn, cx_schema
from schemas import names as n
from transforms.catenax import DAY_COL, WEEK, daily_series, weekly_series, with_master_data

MAX_NAME = 200   # bytes of an encoded id in a file name (most filesystems allow 255)
WBMD, STMD = "week_based_material_demand", "short_term_material_demand"
IDS_TABLE = "catenax_ids"
SERIES_CATEGORY = "SR99"   # Series: demand of series production (CX-0128 §5.5.1)
UNITS = {"H87": "unit:piece", "KGM": "unit:kilogram", "LTR": "unit:litre", "MTR": "unit:metre",
         "MTK": "unit:squareMetre"}   # CX-0128 Annex, units of measure used in DCM
THOUSANDTH = Decimal("0.001")          # the model's FixedPointConstraint: 3 decimal places

IDS_SCHEMA = StructType([StructField(name, StringType(), nullable) for name, nullable in (
    ("supplier", False), ("customer", False), ("material_number_customer", False), ("material_demand_id", False),
    ("material_global_asset_id", False), ("unit", True), ("description", True),
    ("locations_json", False), ("content_sha256", False),
    ("changed_at", False), ("first_run_id", False), ("last_run_id", False))])


class ExportError(BomflowError):
    """The export wrote nothing: a document failed validation, or the inputs are unusable."""


@dataclass
class ExportReport:
    run_id: str
    folder: Path
    weekly_documents: int = 0
    daily_documents: int = 0
    zero_documents: int = 0          # sent before, no demand now: explicit zero weeks
    first_week: str = ""
    last_week: str = ""
    left_out: list[dict] = field(default_factory=list)   # {what, id, reason}


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def quantity(value) -> float:
    return float(Decimal(value).quantize(THOUSANDTH, rounding=ROUND_HALF_UP))


def now_stamp() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# ---- validation --------------------------------------------------------------------------------

def schema_validator(name: str) -> Draft4Validator:
    """The shipped schema's validator (schemas/cx_schema.py: jsonschema's verdicts, linear in the series)."""
    return cx_schema.validator(name)


def cx_rule_errors(doc: dict, weekly: bool) -> list[str]:
    """CX-0128 producer rules the JSON schema does not enforce (standards README rules 1, 2, 5, 8, 9, 11)."""
    errors = []
    if weekly:
        for key in ("customer", "supplier"):
            if not bpn.is_valid(doc.get(key)):
                errors.append(f"{key}: {doc.get(key)!r} is not a valid BPNL (CX-0010 check characters)")
        for key in ("materialDemandId", "materialGlobalAssetId"):
            if key in doc and uuid.UUID(doc[key].removeprefix("urn:uuid:")).version != 4:
                errors.append(f"{key}: not a UUIDv4")
        if doc.get("unitOfMeasureIsOmitted") == ("unitOfMeasure" in doc):
            errors.append("unitOfMeasure: must be present exactly when unitOfMeasureIsOmitted is false")
    pairs = set()
    location_key = "customerLocation" if weekly else "customerLocationBpns"
    time_key = "pointInTime" if weekly else "day"
    for i, series in enumerate(doc.get("demandSeries", [])):
        pair = (series.get(location_key), json.dumps(series.get("demandCategory"), sort_keys=True))
        if pair in pairs:
            errors.append(f"demandSeries/{i}: duplicate ({location_key}, demandCategory)")
        pairs.add(pair)
        if not bpn.is_valid(series.get(location_key)):
            errors.append(f"demandSeries/{i}/{location_key}: not a valid BPNS")
        times = [d[time_key] for d in series.get("demands", [])]
        if len(times) != len(set(times)):
            errors.append(f"demandSeries/{i}/demands: duplicate {time_key}")
        for j, t in enumerate(times):
            if weekly and date.fromisoformat(t).isoweekday() != 1:
                errors.append(f"demandSeries/{i}/demands/{j}/pointInTime: {t} is not a Monday")
    return errors


def validate(doc: dict, validator: Draft4Validator, weekly: bool, name: str) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}"
              for e in validator.iter_errors(doc)] + cx_rule_errors(doc, weekly)
    if errors:
        raise ExportError(f"{name} is not a valid {'WeekBasedMaterialDemand' if weekly else 'ShortTermMaterialDemand'}, "
                          f"nothing exported:\n  " + "\n  ".join(errors[:10]))


# ---- building documents ------------------------------------------------------------------------

@dataclass
class Material:
    supplier: str
    part_id: str
    unit: str | None
    description: str | None
    by_site: dict[str, dict[date, Decimal]] = field(default_factory=dict)   # BPNS -> bucket -> quantity


def materials(rows, bucket: str, report: ExportReport, what: str) -> dict[tuple, Material]:
    """Rows sorted by (supplier, part) -> Material per (supplier, part); bad BPNs are left out and reported."""
    out = {}
    for (supplier, part_id), group in groupby(rows, key=lambda r: (r[n.SUPPLIER_ID], r[n.PART_ID])):
        group = list(group)
        if not bpn.is_valid(supplier):
            report.left_out.append({"what": what, "id": f"{supplier}/{part_id}",
                                    "reason": f"supplier {supplier!r} is not a valid BPNL (CX-0010)"})
            continue
        material = Material(supplier, part_id, group[0][n.UNIT], group[0]["description"])
        for r in group:
            if not bpn.is_valid(r["bpns"]):
                report.left_out.append({"what": what, "id": f"{supplier}/{part_id}@{r[n.PLANT_ID]}",
                                        "reason": f"plant {r[n.PLANT_ID]} has no valid BPNS ({r['bpns']!r})"})
                continue
            site = material.by_site.setdefault(r["bpns"], {})
            site[r[bucket]] = site.get(r[bucket], Decimal(0)) + r[n.QUANTITY]
        out[(supplier, part_id)] = material
    return out


def unit_fields(unit: str | None) -> dict:
    mapped = UNITS.get(unit or "")
    return {"unitOfMeasureIsOmitted": False, "unitOfMeasure": mapped} if mapped else {"unitOfMeasureIsOmitted": True}


def weekly_document(material: Material, customer: str, ids: dict, sites: list[str], weeks: list[date]) -> dict:
    series = [{"customerLocation": site, "demandCategory": {"demandCategoryCode": SERIES_CATEGORY},
               "demands": [{"pointInTime": week.isoformat(), "demand": quantity(material.by_site.get(site, {}).get(week, 0))}
                           for week in weeks]}
              for site in sites]
    return {"materialDemandId": ids["material_demand_id"], "materialGlobalAssetId": ids["material_global_asset_id"],
            "customer": customer, "supplier": material.supplier, "materialNumberCustomer": material.part_id,
            "materialDescriptionCustomer": material.description or material.part_id,
            **unit_fields(material.unit), "materialDemandIsInactive": False, "demandSeries": series}


def daily_document(material: Material, ids: dict, days: list[date], changed_at: str) -> dict:
    unit = UNITS.get(material.unit or "", "unit:piece")
    series = [{"customerLocationBpns": site, "demandCategory": {"demandCategoryCode": SERIES_CATEGORY},
               "lastUpdatedOnDateTime": changed_at,
               "demands": [{"day": day.isoformat(), "demand": {"value": quantity(by_day.get(day, 0)), "unit": unit}}
                           for day in days]}
              for site, by_day in sorted(material.by_site.items())]
    return {"materialGlobalAssetId": ids["material_global_asset_id"], "demandSeries": series}


def content_hash(doc: dict) -> str:
    stable = {k: v for k, v in doc.items() if k not in ("changedAt",)}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()


# ---- the export --------------------------------------------------------------------------------

def known_ids(spark: SparkSession, lake: str) -> dict[tuple, dict]:
    if lk.newest_commit(spark, lake, IDS_TABLE) is None:
        return {}
    return {(r.supplier, r.customer, r.material_number_customer): r.asDict()
            for r in spark.read.format("delta").load(lk.table_path(lake, IDS_TABLE)).collect()}


def export(spark: SparkSession, settings: dict, lake: str, out: str, customer: str | None = None,
           run_id: str | None = None) -> ExportReport:
    conf = settings.get("catenax", {})
    customer = customer or conf.get("customer_bpnl")
    if not bpn.is_valid(customer):
        raise ExportError(f"customer BPNL {customer!r} is not valid (CX-0010: BPNL + 10 characters + 2 check characters)")
    run = lk.succeeded_run(spark, lake, run_id)
    demand = lk.committed_table(spark, lake, run, n.PART_DEMAND)
    plants = lk.committed_table(spark, lake, run, n.PLANTS)
    parts = lk.committed_table(spark, lake, run, n.PARTS)
    report = ExportReport(run.run_id, Path(out) / run.run_id)

    first_week = monday(run.run_date)
    weekly_rows = (with_master_data(weekly_series(demand, first_week), plants, parts)
                   .orderBy(n.SUPPLIER_ID, n.PART_ID, n.PLANT_ID, WEEK).toLocalIterator())
    weekly = materials(weekly_rows, WEEK, report, WBMD)
    last_day = first_week + timedelta(weeks=int(conf.get("short_term_weeks", 4))) - timedelta(days=1)
    daily_rows = (with_master_data(daily_series(demand, run.run_date, last_day), plants, parts)
                  .orderBy(n.SUPPLIER_ID, n.PART_ID, n.PLANT_ID, DAY_COL).toLocalIterator())
    daily = materials(daily_rows, DAY_COL, report, STMD)

    ids = known_ids(spark, lake)
    last_week = max([first_week] + [w for m in weekly.values() for site in m.by_site.values() for w in site])
    weeks = [first_week + timedelta(weeks=i) for i in range((last_week - first_week).days // 7 + 1)]
    days = [run.run_date + timedelta(days=i) for i in range((last_day - run.run_date).days + 1)]
    report.first_week, report.last_week = first_week.isoformat(), last_week.isoformat()
    for (supplier, cust, part_id), known in ids.items():   # sent before, no demand now: zeros, same id
        if cust == customer and (supplier, part_id) not in weekly:
            weekly[(supplier, part_id)] = Material(supplier, part_id, known.get("unit"), known.get("description"))
            report.zero_documents += 1

    stamp, wbmd, stmd = now_stamp(), schema_validator("WeekBasedMaterialDemand"), schema_validator("ShortTermMaterialDemand")
    staging = Path(out) / f".{run.run_id}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    new_ids = dict(ids)
    try:
        for (supplier, part_id), material in sorted(weekly.items()):
            key = (supplier, customer, part_id)
            known = ids.get(key) or {"material_demand_id": str(uuid.uuid4()), "material_global_asset_id": f"urn:uuid:{uuid.uuid4()}",
                                     "first_run_id": run.run_id, "locations_json": "[]"}
            sites = sorted(set(material.by_site) | set(json.loads(known["locations_json"])))
            doc = weekly_document(material, customer, known, sites, weeks)
            digest = content_hash(doc)
            changed_at = known["changed_at"] if known.get("content_sha256") == digest else stamp
            doc["changedAt"] = changed_at
            name = f"{WBMD}/{file_name(supplier)}/{file_name(part_id)}.json"
            validate(doc, wbmd, True, name)
            _write(staging / name, doc)
            new_ids[key] = {**known, "supplier": supplier, "customer": customer, "material_number_customer": part_id,
                            "unit": material.unit, "description": material.description,
                            "locations_json": json.dumps(sites), "content_sha256": digest, "changed_at": changed_at,
                            "last_run_id": run.run_id}
            report.weekly_documents += 1
            if (supplier, part_id) in daily:
                doc = daily_document(daily[(supplier, part_id)], new_ids[key], days, changed_at)
                name = f"{STMD}/{file_name(supplier)}/{file_name(part_id)}.json"
                validate(doc, stmd, False, name)
                _write(staging / name, doc)
                report.daily_documents += 1
        _write(staging / "manifest.json", {"run_id": run.run_id, "customer": customer, "exported_at": stamp,
                                           "first_week": report.first_week, "last_week": report.last_week,
                                           "weekly_documents": report.weekly_documents,
                                           "daily_documents": report.daily_documents,
                                           "zero_documents": report.zero_documents, "left_out": report.left_out})
        rows = [tuple(v.get(f.name) for f in IDS_SCHEMA.fields) for v in new_ids.values()]
        lk.write_table(spark.createDataFrame(rows, IDS_SCHEMA), lake, IDS_TABLE)   # ids first: never send an unkept id
        shutil.rmtree(report.folder, ignore_errors=True)
        staging.rename(report.folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def file_name(value: str) -> str:
    """A file name for a part or supplier id that can never leave its folder: every character but
    letters, digits, '-' and '_' percent-encoded (so '/', '..' and a leading '.' cannot survive),
    and an id too long for a file name cut, with a hash of the whole id to keep it unique."""
    encoded = quote(value, safe="-_").replace(".", "%2E").replace("~", "%7E")   # quote keeps "." and "~"
    if len(encoded) > MAX_NAME:
        encoded = f"{encoded[:MAX_NAME - 65]}~{hashlib.sha256(value.encode()).hexdigest()}"
    return encoded


def _write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


def summary_lines(report: ExportReport) -> list[str]:
    lines = [f"exported run {report.run_id} to {report.folder}",
             f"  WeekBasedMaterialDemand 3.0.1   {report.weekly_documents:>6} documents, weeks {report.first_week} .. "
             f"{report.last_week} ({report.zero_documents} with zero demand now)",
             f"  ShortTermMaterialDemand 1.0.0   {report.daily_documents:>6} documents"]
    for item in report.left_out:
        lines.append(f"  LEFT OUT {item['what']} {item['id']}: {item['reason']}")
    return lines
