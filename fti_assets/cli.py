"""`fti`: run the system from the command line, with the same jobs the Dagster UI runs."""

import argparse
import os
import sys
import warnings

from fti_assets import settings

REPLAY_START, REPLAY_END = "2013-01-01", "2013-12-31"


def _instance():
    import dagster as dg

    os.environ.setdefault("DAGSTER_HOME", str(settings.REPO_ROOT / "dagster_home"))
    return dg.DagsterInstance.get()


def run_job(job_name: str, start: str, end: str) -> None:
    from fti_assets.runner import failure_messages, run_window

    result = run_window(job_name, start, end, _instance())
    if not result.success:
        sys.exit(f"{job_name} failed:\n" + "\n".join(failure_messages(result)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fti", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    main_parser = commands.add_parser("main", help="Run the whole system over the 2013 replay.")
    main_parser.add_argument("--start", default=REPLAY_START)
    main_parser.add_argument("--end", default=REPLAY_END)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=Warning, module="dagster")

    if args.command == "main":
        from fti_assets.summary import render

        run_job("feature_job", args.start, args.end)
        print(render())


if __name__ == "__main__":
    main()
