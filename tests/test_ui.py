"""The planner's page (`bomflow ui`) in a real headless Chromium (Debian's chromium + chromedriver, driven
by Selenium): a planner searches a part and reads numbers that must equal the lake's."""
import shutil
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from adapters import lake as lk
from jobs import cli
from pipeline import config
from schemas import names as n

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def page(spark, solr, history, tmp_path_factory):
    """The history lake (three runs) published to the test Solr, its page served from this process."""
    from pipeline import ui

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):   # `make test` installs them (Makefile: browser)
        pytest.fail("headless Chromium is missing: run `make browser` (apt-get install chromium chromium-driver)")
    lake = tmp_path_factory.mktemp("ui") / "lake"
    shutil.copytree(history.lake, lake)
    assert cli.main(["publish", "--lake", str(lake)]) == 0
    server = ui.serve(ui.create_app(ui.Window(spark, config.load("test"), str(lake))), port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield lake, f"http://127.0.0.1:{server.effective_port}/"
    server.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(10)
    yield driver
    driver.quit()


def table(driver, css: str) -> list[list[str]]:
    return [[td.text for td in tr.find_elements("css selector", "td")]
            for tr in driver.find_elements("css selector", f"{css} tbody tr")]


def test_a_planner_searches_a_part_and_reads_the_lakes_numbers(spark, history, page, browser):
    from selenium.webdriver.support.ui import Select

    lake, url = page
    served = lk.succeeded_run(spark, str(lake))
    assert served.run_id == history.run_ids[-1]
    summary = lk.committed_table(spark, str(lake), served, n.DEMAND_SUMMARY).where(F.col(n.BUCKET) == n.WEEK)
    exceptions = lk.lake_table(spark, str(lake), n.EXCEPTIONS, "").where(F.col(n.RUN_ID) == served.run_id)
    # the part with the most exception messages (any part with weekly demand when there are none)
    busiest = exceptions.join(summary.select(n.PART_ID).distinct(), n.PART_ID).groupBy(n.PART_ID).count() \
        .orderBy(F.desc("count"), n.PART_ID).first()
    part = busiest.part_id if busiest else summary.orderBy(n.PART_ID).first().part_id

    browser.get(url)
    assert browser.find_element("id", "run-id").text == served.run_id   # the run is shown before any search
    browser.find_element("id", "part").send_keys(part)
    Select(browser.find_element("id", "by")).select_by_value(n.WEEK)
    browser.find_element("id", "go").click()

    problems = [p.text for p in browser.find_elements("id", "problem")]
    assert not problems, problems
    shown = table(browser, "#demand-table")
    expected = summary.where(F.col(n.PART_ID) == part).collect()
    assert sorted((r[0], r[3], r[4], Decimal(r[5])) for r in shown) == sorted(
        (e.plant_id, str(e.bucket_start), e.source, e.quantity) for e in expected) and shown
    assert Decimal(browser.find_element("id", "total").text) == sum(e.quantity for e in expected)

    # last night's change: the previous succeeded run's committed demand_summary
    before = lk.succeeded_run(spark, str(lake), history.run_ids[-2])
    assert browser.find_element("id", "previous-run").text == before.run_id
    old = {(o.plant_id, str(o.bucket_start), o.source): o.quantity for o in lk.committed_table(
        spark, str(lake), before, n.DEMAND_SUMMARY).where((F.col(n.BUCKET) == n.WEEK) & (F.col(n.PART_ID) == part))
        .collect()}
    for r in shown:
        previous = old.get((r[0], r[3], r[4]), Decimal(0))
        assert (Decimal(r[7]), Decimal(r[8])) == (previous, Decimal(r[5]) - previous)

    # the chart is drawn by Plotly: one bar series per plant, its bars summing to the table
    traces = browser.execute_script("return document.getElementById('chart').data")
    assert sorted(t["name"] for t in traces) == sorted({e.plant_id for e in expected})
    assert sum(map(Decimal, map(str, (y for t in traces for y in t["y"])))) == sum(e.quantity for e in expected)
    assert browser.find_elements("css selector", "#chart svg.main-svg")

    listed = table(browser, "#exceptions-table") if busiest else []
    assert sorted((x[0], x[1], x[3], x[4]) for x in listed) == sorted(
        (x.kind, x.plant_id, str(x.bucket_start), x.message) for x in exceptions.where(F.col(n.PART_ID) == part)
        .collect())
    assert int(browser.find_element("id", "quarantine-rows").text) == (served.quarantine_rows or 0)

    # where-used: the models that reach the part over the served run's own BOM copy (walked up here)
    parents: dict[str, set] = {}
    for e in lk.committed_table(spark, str(lake), served, n.BOM_ITEMS).collect():
        parents.setdefault(e.child_id, set()).add(e.parent_id)
    models, todo = set(), [part]
    while todo:
        for parent in parents.get(todo.pop(), ()):
            (models.add(parent) if parent not in parents else todo.append(parent))
    first = browser.find_element("css selector", "#where-used li").text
    assert first.startswith(f"{part} is used by {len(models)} model(s): {', '.join(sorted(models))};"), first

    # pegging: a week's "orders" link lists the orders behind that row, summing exactly to it
    link = browser.find_elements("css selector", "#demand-table a.peg")[0]
    row = link.find_element("xpath", "./ancestor::tr")
    cells = [td.text for td in row.find_elements("css selector", "td")]
    link.click()
    pegged = table(browser, "#peg-table")
    assert pegged and sum(Decimal(r[5]) for r in pegged) == Decimal(browser.find_element("id", "peg-total").text)
    assert Decimal(browser.find_element("id", "peg-total").text) == Decimal(cells[5])   # the Solr number
    assert browser.find_element("id", "run-id").text == served.run_id


def test_a_search_with_no_demand_says_so_and_a_missing_alias_is_a_clear_message(page, browser, spark):
    from pipeline import ui

    _, url = page
    browser.get(url + "?part=NO-SUCH-PART&by=month")
    assert "No demand" in browser.find_element("id", "no-demand").text
    conf = config.load("test")
    conf["solr"] = {**conf["solr"], "alias": "no_such_alias"}
    answer = ui.Window(spark, conf, "unused").answer(ui.Question(part="X"))
    assert "no_such_alias" in answer.problem and not answer.rows and answer.run is None
