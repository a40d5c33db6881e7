"""Catena-X export: schema-valid documents, CX-0128 rules, stable ids across runs, explicit zero weeks, bad BPNs left out."""
import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft4Validator, FormatChecker
from pyspark.sql import functions as F

from jobs import cli
from pipeline.export import ExportError, STMD, WBMD, cx_rule_errors, validate, schema_validator
from schemas import bpn
from schemas import names as n
from tests.builders import BAD_BPNL, BAD_SUPPLIER_PART, DROPPED_PART, read_table

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "catenax"


def export(lake, out, run_id) -> Path:
    assert cli.main(["export", "catenax", "--lake", str(lake), "--out", str(out), "--run-id", run_id]) == 0
    return Path(out) / run_id


def documents(folder: Path, kind: str) -> dict[str, dict]:
    return {str(p.relative_to(folder / kind)): json.loads(p.read_text()) for p in (folder / kind).rglob("*.json")}


@pytest.fixture(scope="module")
def exports(history, tmp_path_factory):
    """The three runs of the shared history lake exported in order (a copy of the lake keeps the ids)."""
    lake = tmp_path_factory.mktemp("cx") / "lake"
    shutil.copytree(history.lake, lake)
    out = lake.parent / "out"
    return lake, [export(lake, out, run_id) for run_id in history.run_ids]


def test_every_document_is_schema_valid_and_follows_cx_0128(exports):
    _, folders = exports
    for kind, schema_file, weekly in ((WBMD, "WeekBasedMaterialDemand-schema.json", True),
                                      (STMD, "ShortTermMaterialDemand-schema.json", False)):
        validator = Draft4Validator(json.loads((SCHEMAS / schema_file).read_text()), format_checker=FormatChecker())
        docs = documents(folders[0], kind)
        assert len(docs) > 100
        for name, doc in docs.items():
            assert not list(validator.iter_errors(doc)), name
            assert not cx_rule_errors(doc, weekly), name
    weekly = documents(folders[0], WBMD)
    weeks = {tuple(d["pointInTime"] for d in s["demands"]) for doc in weekly.values() for s in doc["demandSeries"]}
    assert len(weeks) == 1, "every series covers the same weeks, zeros included"
    (week_list,) = weeks
    assert week_list[0] == "2026-03-02" and all(date.fromisoformat(w).weekday() == 0 for w in week_list)
    assert len(week_list) >= 39, "at least 9 months of weeks (CX-0128 recommendation)"
    assert all(bpn.is_valid(doc["supplier"]) for doc in weekly.values())


def test_weekly_totals_equal_the_purchased_demand_of_the_run(spark, exports):
    lake, folders = exports
    first_run = json.loads((folders[0] / "manifest.json").read_text())["run_id"]
    v0 = [r for r in read_table(spark, lake, n.RUNS).collect() if r.run_id == first_run][0]
    versions = json.loads(v0.metrics_json)["committed_versions"]
    demand = spark.read.format("delta").option("versionAsOf", versions[n.PART_DEMAND]).load(str(lake / n.PART_DEMAND))
    expected = {(r.supplier_id, r.part_id): r.total for r in demand.where(F.col(n.PART_TYPE) == n.PURCHASED)
                .groupBy(n.SUPPLIER_ID, n.PART_ID).agg(F.sum(n.QUANTITY).alias("total")).collect()}
    docs = documents(folders[0], WBMD)
    got = {(d["supplier"], d["materialNumberCustomer"]): sum(Decimal(str(x["demand"])) for s in d["demandSeries"]
                                                              for x in s["demands"]) for d in docs.values()}
    assert got.keys() == expected.keys()
    weeks = len(next(iter(docs.values()))["demandSeries"][0]["demands"])
    off = [k for k in expected if abs(got[k] - expected[k]) > Decimal("0.0005") * weeks * 5]
    assert not off, [(k, got[k], expected[k]) for k in off[:3]]


def test_each_week_is_demand_summarys_week_bucket_plan_included(spark, exports):
    """One number everywhere: the export's week equals the week bucket of demand_summary (orders + plan)
    that Solr and the page serve, rounded as CX-0128 sends it; week 0 also holds the weeks before it."""
    from pipeline.export import quantity
    lake, folders = exports
    run_id = json.loads((folders[0] / "manifest.json").read_text())["run_id"]
    run = [r for r in read_table(spark, lake, n.RUNS).collect() if r.run_id == run_id][0]
    versions = json.loads(run.metrics_json)["committed_versions"]
    at = lambda table: spark.read.format("delta").option("versionAsOf", versions[table]).load(str(lake / table))
    site = {r.plant_id: r.bpns for r in at(n.PLANTS).collect()}
    purchased = {r.part_id for r in at(n.PARTS).where(F.col(n.PART_TYPE) == n.PURCHASED).collect()}
    week0 = date.fromisoformat(next(iter(documents(folders[0], WBMD).values()))["demandSeries"][0]["demands"][0]["pointInTime"])
    expected, plan_weeks = {}, set()
    for r in at(n.DEMAND_SUMMARY).where(F.col(n.BUCKET) == n.WEEK).collect():
        if r.part_id in purchased and site.get(r.plant_id):
            key = (r.supplier_id, r.part_id, site[r.plant_id], max(r.bucket_start, week0).isoformat())
            expected[key] = expected.get(key, Decimal(0)) + r.quantity
            if r.source == n.SOURCE_PLAN:
                plan_weeks.add(key)
    got = {(d["supplier"], d["materialNumberCustomer"], s["customerLocation"], x["pointInTime"]): x["demand"]
           for d in documents(folders[0], WBMD).values() for s in d["demandSeries"] for x in s["demands"]}
    assert plan_weeks and expected, "the sample has plan demand in the export's weeks"
    assert {k: quantity(v) for k, v in expected.items() if k in got} == {k: got[k] for k in expected if k in got}
    assert set(expected) <= set(got), sorted(set(expected) - set(got))[:3]
    assert all(v == 0 for k, v in got.items() if k not in expected), "a week without summary demand is an explicit 0"


def test_ids_are_stable_and_unchanged_content_keeps_changed_at(exports):
    _, folders = exports
    first, second, third = (documents(f, WBMD) for f in folders)
    assert first.keys() == second.keys()
    for name, doc in first.items():
        assert second[name]["materialDemandId"] == doc["materialDemandId"]
        assert second[name]["changedAt"] == doc["changedAt"], "same demand: same changedAt"
    ids = [d["materialDemandId"] for d in first.values()]
    assert len(set(ids)) == len(ids)
    for name, doc in third.items():
        if name in first:
            assert doc["materialDemandId"] == first[name]["materialDemandId"]


def test_dropped_part_gets_explicit_zero_weeks(exports):
    _, folders = exports
    first, third = documents(folders[0], WBMD), documents(folders[2], WBMD)
    (name,) = [k for k, d in first.items() if d["materialNumberCustomer"] == DROPPED_PART]
    before, after = first[name], third[name]
    assert any(x["demand"] > 0 for s in before["demandSeries"] for x in s["demands"])
    assert after["materialDemandId"] == before["materialDemandId"]
    assert [s["customerLocation"] for s in after["demandSeries"]] == [s["customerLocation"] for s in before["demandSeries"]]
    assert all(x["demand"] == 0 for s in after["demandSeries"] for x in s["demands"])
    assert len(after["demandSeries"][0]["demands"]) == len(third[next(iter(third))]["demandSeries"][0]["demands"])
    assert after["changedAt"] > before["changedAt"]


def test_invalid_supplier_bpnl_is_reported_and_never_sent(exports):
    _, folders = exports
    manifest = json.loads((folders[2] / "manifest.json").read_text())
    assert any(BAD_SUPPLIER_PART in item["id"] and "BPNL" in item["reason"] for item in manifest["left_out"])
    assert not any(BAD_BPNL in str(p) for p in folders[2].rglob("*"))


def test_invalid_document_fails_with_the_field_path():
    bad = {"materialDemandId": "0157ba42-d2a8-4e28-8565-7b07830c1110", "customer": "BPNL000000000BXT",
           "supplier": "BPNL000000000BXT", "materialNumberCustomer": "X", "materialDescriptionCustomer": "X",
           "changedAt": "2026-03-02T00:00:00.000+00:00", "unitOfMeasureIsOmitted": False, "unitOfMeasure": "unit:piece",
           "materialDemandIsInactive": False,
           "demandSeries": [{"customerLocation": "BPNS0000000000WN", "demandCategory": {"demandCategoryCode": "SR99"},
                             "demands": [{"pointInTime": "2026-03-03", "demand": 1.0}]}]}
    with pytest.raises(ExportError, match=r"demandSeries/0/demands/0/pointInTime: 2026-03-03 is not a Monday"):
        validate(bad, schema_validator("WeekBasedMaterialDemand"), True, "x.json")
    bad["demandSeries"][0]["demands"][0] = {"pointInTime": "2026-03-02", "demand": -1}
    with pytest.raises(ExportError, match=r"demandSeries/0/demands/0/demand"):
        validate(bad, schema_validator("WeekBasedMaterialDemand"), True, "x.json")


def copy(value):
    return json.loads(json.dumps(value))


def errors(validator, doc) -> list[tuple]:
    return sorted((tuple(e.absolute_path), e.validator, e.message) for e in validator.iter_errors(doc))


def test_the_fast_validator_finds_exactly_what_jsonschema_finds(exports):
    """schemas/cx_schema.py (local $refs inlined, uniqueItems by hashing) against jsonschema's own
    Draft4Validator on the schema as shipped: the same errors, path, keyword and message, on every exported
    document of a run and on broken copies (duplicated entries, 1 == 1.0 but True != 1, a bad pattern,
    type and enum inside referenced components, a missing required member)."""
    from schemas import cx_schema

    _, folders = exports
    for kind, schema, day in ((WBMD, "WeekBasedMaterialDemand", "pointInTime"), (STMD, "ShortTermMaterialDemand", "day")):
        fast, reference = cx_schema.validator(schema), cx_schema.reference_validator(schema)
        docs = list(documents(folders[0], kind).values())
        assert docs
        for doc in docs:
            assert errors(fast, doc) == errors(reference, doc) == []
        doc = max(docs, key=lambda d: len(d["demandSeries"][0]["demands"]))
        series = doc["demandSeries"][0]
        entry, rest = series["demands"][0], series["demands"][1:]
        location, number = ("customerLocation", "demand") if kind == WBMD else ("customerLocationBpns", "value")

        def with_series(**members) -> dict:   # a copy of the document with members of its first series replaced
            bad = copy(doc)
            bad["demandSeries"][0].update(copy(members))
            return bad

        def with_number(value) -> dict:       # a copy of the first demand entry with its number set
            changed = copy(entry)
            (changed if kind == WBMD else changed["demand"])[number] = value
            return changed

        broken = [
            with_series(demands=series["demands"] + [series["demands"][-1]]),           # a duplicated entry
            {**copy(doc), "demandSeries": copy(doc["demandSeries"] + [series])},          # a duplicated series
            with_series(demands=[with_number(1), with_number(1.0)]),   # 1 == 1.0 in JSON: the same entry twice
            with_series(demands=[with_number(1), with_number(True)]),  # True is not 1 (nor a number): unique
            with_series(**{location: "BPNX0000000000WN"}),
            with_series(demandCategory={"demandCategoryCode": "NOPE"}, demands=[{**entry, day: 20260302}, *rest]),
            {key: value for key, value in with_series(demands=[{k: v for k, v in entry.items() if k != day}, *rest]).items()
             if key != next(iter(doc))},                                                  # missing members
        ]
        for bad in broken:
            found = errors(reference, bad)
            assert found and errors(fast, bad) == found, found


def test_invalid_customer_bpnl_is_refused(exports, capsys):
    lake, _ = exports
    assert cli.main(["export", "catenax", "--lake", str(lake), "--out", str(lake.parent / "never"),
                     "--customer-bpnl", "BPNL000BMWAG01XX"]) == 2
    assert "not valid" in capsys.readouterr().err
    assert not (lake.parent / "never").exists()


HOSTILE_IDS = ["../../lake/part_demand/_delta_log/x", "..", ".", ".hidden", "a/b", "a\\b", "%2F", "A" * 400,
               "A" * 400 + "B", "ÄÖÜ-ß", "PAINT-P300", "x.json", "x json", "C:\\windows", "\x00nul"]


def test_file_names_of_hostile_ids_stay_in_their_folder(tmp_path):
    """Part numbers become file names in the export: none may escape --out, hide, or collide."""
    from pipeline.export import MAX_NAME, file_name

    names = [file_name(value) for value in HOSTILE_IDS]
    (tmp_path / "supplier").mkdir()
    assert len(set(names)) == len(HOSTILE_IDS)                      # distinct ids, distinct files
    assert file_name("PAINT-P300") == "PAINT-P300"                  # ordinary part numbers read as they are
    for value, name in zip(HOSTILE_IDS, names):
        assert 0 < len(name.encode()) <= MAX_NAME + 1 and not name.startswith("."), (value, name)
        path = (tmp_path / "supplier" / f"{name}.json").resolve()
        assert path.parent == (tmp_path / "supplier").resolve(), (value, name)
        path.write_text("{}")                                      # the filesystem takes it
    assert len(list((tmp_path / "supplier").iterdir())) == len(HOSTILE_IDS)
