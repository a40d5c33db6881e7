# bomflow: two commands do everything on a fresh machine (Python 3.11, Java 17, Maven).
#   make run    set up, generate sample data, run the nightly job, print what it wrote
#   make test   set up and run the whole test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SETUP_STAMP := $(VENV)/.bomflow-setup
DATA ?= data
ORDERS ?= 20000

AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.bomflow-setup

UI_PORT ?= 8765

.PHONY: setup run test clean tools bench bench-solr airflow dist browser ui
# The venv (pinned), then `bomflow setup`: the Delta and Solr jars from Maven Central, Delta on Spark's classpath
# (an installed wheel runs the same command; it fetches again only when a pom changed).
setup: $(SETUP_STAMP) tools
	@$(BIN)/bomflow setup

tools:
	@command -v java >/dev/null || { echo "bomflow needs Java 17+ (java not found)"; exit 1; }
	@command -v mvn >/dev/null || { echo "bomflow needs Maven (mvn not found)"; exit 1; }

$(SETUP_STAMP): setup.cfg constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,notebooks,ui]'
	@touch $@

# Airflow gets its own environment, as on a scheduler host: its pins clash with nothing of ours that way.
airflow: $(AIRFLOW_STAMP)
$(AIRFLOW_STAMP): constraints-airflow.txt
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet -c constraints-airflow.txt apache-airflow==3.3.2
	@touch $@

run: setup
	$(BIN)/bomflow solr start
	$(BIN)/bomflow generate --out $(DATA)/source --orders $(ORDERS)
	$(BIN)/bomflow run --source $(DATA)/source --lake $(DATA)/lake
	$(BIN)/bomflow export catenax --lake $(DATA)/lake --out $(DATA)/catenax
	@$(MAKE) --no-print-directory ui
	@echo
	@echo "Where to look:"
	@echo "  planner's page: http://127.0.0.1:$(UI_PORT)/?part=PAINT-P300&by=week   (bomflow ui; log $(DATA)/ui.log)"
	@echo "  lake (Delta):   $(DATA)/lake/{part_demand,demand_summary,quarantine,exceptions,runs}   (.venv/bin/pyspark has Delta)"
	@echo "  a part's demand: .venv/bin/bomflow demand --plant DIN --part PAINT-P300 --by week   (through the Solr alias)"
	@echo "  to act on:      .venv/bin/bomflow exceptions --kind LATE   (through the Solr alias; --lake $(DATA)/lake reads the lake)"
	@echo "  runs:           .venv/bin/bomflow status --lake $(DATA)/lake"
	@echo "  metrics:        metrics/bomflow.prom   (Prometheus textfile; alerting rules: monitoring/bomflow-alerts.yml)"
	@echo "  Solr:           curl -u reader:PASSWORD 'http://127.0.0.1:8983/solr/demand/select?q=part_id:PAINT-P300%20AND%20bucket:week'"
	@echo "                  (users and passwords: .solr/credentials; writer publishes, reader queries)"
	@echo "  Solr state:     .venv/bin/bomflow solr status      (stop it: .venv/bin/bomflow solr stop)"
	@echo "  Catena-X:       $(DATA)/catenax/<run_id>/{week_based_material_demand,short_term_material_demand}/"
	@echo "  orders behind:  .venv/bin/bomflow peg --lake $(DATA)/lake --plant DIN --part PAINT-P300 --week $$(date -d '+7 days' +%G-W%V)"
	@echo "  why a demand:   .venv/bin/bomflow explain --source $(DATA)/source --plant SPA --model G05 --date $$(date +%F) --options B58,AT8,P300 --part VALVE"

# Headless Chromium for the page's browser test, from Debian's packages (CI runs as root).
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
	  test "$$(id -u)" = 0 || { echo "the browser test needs chromium and chromium-driver: sudo apt-get install chromium chromium-driver"; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# The planner's page in the background (its log and pid next to the data); `make clean` stops it.
ui: setup
	@-test -f $(DATA)/ui.pid && kill $$(cat $(DATA)/ui.pid) 2>/dev/null; sleep 1
	@nohup $(BIN)/bomflow ui --lake $(DATA)/lake --port $(UI_PORT) > $(DATA)/ui.log 2>&1 & echo $$! > $(DATA)/ui.pid
	@for i in $$(seq 60); do curl -sf http://127.0.0.1:$(UI_PORT)/healthz >/dev/null && break; sleep 1; done
	@curl -sf http://127.0.0.1:$(UI_PORT)/healthz >/dev/null || { echo "bomflow ui did not start: see $(DATA)/ui.log"; exit 1; }

# Two pytest-xdist workers, each its own SparkSession; tests sharing a fixture or a port stay on one
# worker (tests/conftest.py: UNITS). TEST_WORKERS=0 runs everything in this one process.
TEST_WORKERS ?= 2
test: setup airflow browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

# Scale benchmark (not part of the tests): SF 0.01, 0.1 and 1 against the scan floor and the peers,
# writes docs/performance.{md,csv,png}. About an hour on 2 cores; SCALES=0.01,0.1 for a quick look.
# Then the realistic profile (issue 14: 80-150 codes per car, 5,000 BOM positions per model) into
# docs/performance-realistic.{md,csv,png}. Last, the driver's live heap at three order counts on a
# standalone master and worker on 127.0.0.1 (bench/driver_heap.py, about 20 minutes) into
# docs/performance-driver-heap.md.
SCALES ?= 0.01,0.1,1
REALISTIC_SCALES ?= 0.01,0.1,1
HEAP_SCALES ?= 0.01,0.1,1
bench: setup
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python -m bench.run --scales $(SCALES)
	$(BIN)/python -m bench.run --profile realistic --scales $(REALISTIC_SCALES) --systems scan_floor,bomflow,bomflow_engine,recursive_cte,duckdb --no-dag
	$(BIN)/python -m bench.driver_heap --scales $(HEAP_SCALES)

bench-solr: setup
	$(BIN)/python bench/solr_publish.py

# The wheel, and one PEX file of it with every dependency (pyspark included) for a cluster:
# spark-submit --files dist/bomflow.pex --conf spark.pyspark.python=./bomflow.pex (docs/operations.md).
dist: $(SETUP_STAMP)
	rm -rf dist build && $(BIN)/pip wheel --quiet --no-deps -w dist .
	$(BIN)/pip install --quiet -c constraints.txt 'pex==2.105.2'
	$(BIN)/pex dist/bomflow-*.whl --constraints constraints.txt -o dist/bomflow.pex
	@ls -l dist

clean:
	-test -f $(DATA)/ui.pid && kill $$(cat $(DATA)/ui.pid)
	-$(BIN)/bomflow solr stop
	rm -rf $(DATA) .pytest_cache .solr .solr-test $(AIRFLOW_VENV) dist build
