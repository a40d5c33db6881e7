"""spark-submit entry point of the nightly job: exactly what `bomflow run` does, publish included.

    spark-submit jobs/nightly_demand.py --source DIR --lake DIR [--conf FILE] [--run-date D] [--no-publish]
"""
import argparse
import sys

from pipeline.errors import guarded
from pipeline.night import add_arguments, execute


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nightly_demand", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return guarded(lambda: execute(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
