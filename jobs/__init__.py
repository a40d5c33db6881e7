"""Entry points: the `bomflow` CLI and spark-submit jobs (thin; the logic lives in transforms/)."""
