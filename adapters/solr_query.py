"""A planner's questions to Solr, as the read-only role, through the alias: `bomflow demand`,
`bomflow exceptions`, the page. Every answer is the run the alias serves, nothing else."""
from datetime import date
from decimal import Decimal

import requests

from adapters.solr import reader, root_cause
from pipeline.errors import BomflowError
from schemas import names as n
from transforms.solr_docs import EXCEPTION, EXCEPTION_FIELDS

DEMAND_FIELDS = (n.RUN_ID, n.SOURCE, n.PLANT_ID, n.PART_ID, n.SUPPLIER_ID, n.UNIT, n.BUCKET, n.BUCKET_START,
                 "quantity_exact")


def _term(field: str, value: str) -> str:
    return f'{field}:"{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'


def query_demand(conf: dict, bucket: str, plant: str | None = None, part: str | None = None,
                 supplier: str | None = None, first: date | None = None, last: date | None = None,
                 url: str | None = None, page: int = 5000) -> list[dict]:
    """Every demand_summary row the alias serves for the filters (as the reader role), paged with a
    cursor; bucket_start as a date, the quantity as the exact decimal. Sorted by plant, part, start, source."""
    url = (url or conf["url"]).rstrip("/")
    filters = [_term(n.BUCKET, bucket)]
    filters += [_term(field, value) for field, value in ((n.PLANT_ID, plant), (n.PART_ID, part),
                                                          (n.SUPPLIER_ID, supplier)) if value]
    if first or last:
        filters.append(f"{n.BUCKET_START}:[{first.isoformat() + 'T00:00:00Z' if first else '*'} TO "
                       f"{last.isoformat() + 'T00:00:00Z' if last else '*'}]")
    rows = [{**{f: doc.get(f) for f in DEMAND_FIELDS if f not in (n.BUCKET_START, "quantity_exact")},
             n.BUCKET_START: date.fromisoformat(doc[n.BUCKET_START][:10]), n.QUANTITY: Decimal(doc["quantity_exact"])}
            for doc in _served_docs(conf, url, filters, DEMAND_FIELDS, page)]
    return sorted(rows, key=lambda r: (r[n.PLANT_ID], r[n.PART_ID], r[n.BUCKET_START], r[n.SOURCE]))


def _served_docs(conf: dict, url: str, filters: list[str], fields: tuple, page: int):
    """Every document of the alias that passes the filters, as the reader role, paged with a cursor."""
    params = {"q": "*:*", "fq": filters, "fl": ",".join(fields), "rows": page, "sort": "id asc", "wt": "json",
              "cursorMark": "*"}
    while True:
        body = reader_select(conf, url, params)
        if body is None:
            raise BomflowError(f"Solr at {url} has no alias {conf['alias']}: nothing is published yet "
                               "(`bomflow publish --lake DIR`)")
        yield from body["response"]["docs"]
        if body["nextCursorMark"] == params["cursorMark"]:
            return
        params["cursorMark"] = body["nextCursorMark"]


def reader_select(conf: dict, url: str, params: dict) -> dict | None:
    """One select on the alias as the reader role: its JSON answer, or None when the alias does not exist.

    Unreachable, or any other refusal (a secured Solr answers 403 for a missing alias too), is a BomflowError."""
    try:
        reply = requests.get(f"{url}/{conf['alias']}/select", params=params, timeout=60, auth=reader(conf))
    except requests.RequestException as err:
        raise BomflowError(f"Solr is not reachable at {url}: {root_cause(err)} (`bomflow solr status`)") from None
    if reply.status_code == 404:
        return None
    if not reply.ok:
        raise BomflowError(f"Solr at {url} refused the reader a query of alias {conf['alias']} (HTTP "
                           f"{reply.status_code}): is anything published, are the credentials right?")
    return reply.json()


def served_run_id(conf: dict, url: str | None = None) -> str | None:
    """The run whose demand the alias serves (None when nothing is published), as the reader role."""
    body = reader_select(conf, (url or conf["url"]).rstrip("/"),
                         {"q": "*:*", "fq": f"{n.BUCKET}:*", "fl": n.RUN_ID, "rows": 1, "wt": "json"})
    docs = body["response"]["docs"] if body is not None else []
    return docs[0][n.RUN_ID] if docs else None


def query_exceptions(conf: dict, plant: str | None = None, part: str | None = None, kind: str | None = None,
                     url: str | None = None, page: int = 5000) -> list[dict]:
    """The exception messages the alias serves (as the reader role), in the exceptions table's columns:
    bucket_start as a date, quantities as exact decimals. Sorted by kind, plant, part, date, model."""
    url = (url or conf["url"]).rstrip("/")
    filters = [_term("doc_type", EXCEPTION)]
    filters += [_term(field, value) for field, value in ((n.PLANT_ID, plant), (n.PART_ID, part), ("kind", kind))
                if value]
    rows = []
    for doc in _served_docs(conf, url, filters, EXCEPTION_FIELDS, page):
        exact = {name: Decimal(doc[field]) if field in doc else None for name, field in (
            (n.QUANTITY, "quantity_exact"), ("previous_quantity", "previous_quantity_exact"))}
        rows.append({n.RUN_ID: doc[n.RUN_ID], "kind": doc["kind"], n.PLANT_ID: doc[n.PLANT_ID],
                     n.PART_ID: doc[n.PART_ID], n.MODEL_ID: doc.get(n.MODEL_ID), n.UNIT: doc.get(n.UNIT),
                     n.BUCKET_START: date.fromisoformat(doc[n.BUCKET_START][:10]), **exact, "message": doc["message"]})
    return sorted(rows, key=lambda r: (r["kind"], r[n.PLANT_ID], r[n.PART_ID], r[n.BUCKET_START], r[n.MODEL_ID] or ""))
