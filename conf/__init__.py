"""bomflow's packaged configuration: base.yaml (every key, with its meaning), one file per environment,
the sample plant network and Spark's log4j2 settings. Data only, read with importlib.resources
(pipeline/resources.py); operators lay their own YAML over it with $BOMFLOW_CONF_DIR."""
