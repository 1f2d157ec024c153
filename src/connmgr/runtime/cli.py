"""The ``connmgr`` console script.

Processes: ``up`` (dev stack), ``worker <pool>``, ``api``, and ``health`` (a probe
for healthchecks). Operators: ``migrate``, ``projection rebuild``, ``audit verify``,
``keys …``, ``token …``, ``streams ensure``, ``dlq …``, ``nats-auth keygen``;
the published contract: ``contract asyncapi``, ``contract json-schema``.
Producers: ``create``, ``update``, ``rotate``, ``delete``, ``test``, ``check``,
``ls``, ``show``, ``status``, ``alerts``, ``import``. The commands and their help are in
``cli_parser``; running one, and its one-line errors, in ``cli_run``.

``connmgr health`` is answered before anything else is imported: it runs every
few seconds in every container, and loads the settings and the standard library
only.
"""

from __future__ import annotations

import argparse
import sys

from connmgr.runtime import health_probe


def build_parser() -> argparse.ArgumentParser:
    from connmgr.runtime.cli_parser import build_parser as build

    return build()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["health"]:
        return health_probe.main(argv[1:])
    from connmgr.runtime.cli_run import run

    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
