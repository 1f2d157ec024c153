"""The ``connmgr`` parser with the producer commands mounted, and a runner of one argv."""

from __future__ import annotations

import argparse

from connmgr.producers.cli import CliContext, register


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="connmgr")
    register(root.add_subparsers(dest="command", required=True))
    return root


async def run(argv: list[str], ctx: CliContext) -> int:
    """Parse ``argv`` and run its handler as the glue would; the exit code."""
    args = parser().parse_args(argv)
    code: int = await args.handler(args, ctx)
    return code
