"""The tester bench's figures (stdout) and remarks (stderr); see ``__main__`` for the list."""

from __future__ import annotations

from dataclasses import dataclass

from bench.harness import figure, note, percentile
from bench.tester.fleet import KINDS
from bench.tester.load import PassFigures
from bench.tester.recorded import Recorded


@dataclass(frozen=True, slots=True)
class Pair:
    """One pass through the tester and the bare loop that followed it."""

    connmgr: PassFigures
    bare: PassFigures


def print_figures(
    pairs: dict[str, Pair], rss_mb: float, *, concurrency: int, per_target: int
) -> None:
    for name, pair in pairs.items():
        pass_figures(name, pair)
    for kind in KINDS:
        for side, figures in (("connmgr", pairs[kind].connmgr), ("bare", pairs[kind].bare)):
            for label, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
                value = percentile(figures.latencies_ms.get(kind, []), fraction)
                figure(f"{side}_{kind}_latency_{label}_ms", value)
    figure("tester_peak_rss_mb", rss_mb)
    figure("tester_concurrency", concurrency)
    figure("tester_per_target", per_target)


def pass_figures(name: str, pair: Pair) -> None:
    connmgr, bare = pair.connmgr, pair.bare
    recorded = connmgr.recorded or Recorded()
    figure(f"connmgr_{name}_tests_per_s", connmgr.per_s)
    figure(f"bare_{name}_tests_per_s", bare.per_s)
    figure(f"{name}_ratio", connmgr.per_s / bare.per_s)
    figure(f"tester_{name}_cpu_percent", connmgr.cpu_percent)
    figure(f"tester_{name}_cpu_ms_per_test", connmgr.cpu_ms_per_test)
    figure(f"bare_{name}_cpu_ms_per_test", bare.cpu_ms_per_test)
    figure(f"connmgr_{name}_checks_in_flight", connmgr.in_flight)
    figure(f"bare_{name}_in_flight", bare.in_flight)
    figure(f"tester_{name}_results_per_flush", recorded.results_per_flush)
    figure(f"connmgr_{name}_not_ok", sum(connmgr.not_ok.values()))
    figure(f"bare_{name}_errors", sum(bare.not_ok.values()))


def remarks(pairs: dict[str, Pair], concurrency: int) -> None:
    """Where a pass's time went on the tester's side: checks running, and the recorder."""
    for name, pair in pairs.items():
        connmgr = pair.connmgr
        recorded = connmgr.recorded or Recorded()
        note(
            f"{name}: {connmgr.per_s:.0f} tests/s with {connmgr.in_flight:.1f} of"
            f" {concurrency} check slots busy on average; {recorded.results} results"
            f" written in {recorded.flushes} transactions"
            f" ({recorded.results_per_flush:.1f} a transaction)"
        )
