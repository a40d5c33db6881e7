"""Named failpoints for fault-injection tests: BOMFLOW_FAILPOINT=<name>[:kill] makes the job fail there.

`name` raises an exception; `name:kill` kills the process (SIGKILL), as a lost
driver would. Unset in production, where failpoint() does nothing.
"""
import os
import signal

VARIABLE = "BOMFLOW_FAILPOINT"


class InjectedFault(RuntimeError):
    pass


def failpoint(name: str) -> None:
    wanted = os.environ.get(VARIABLE, "")
    if wanted == name:
        raise InjectedFault(f"injected fault at {name}")
    if wanted == f"{name}:kill":
        os.kill(os.getpid(), signal.SIGKILL)
