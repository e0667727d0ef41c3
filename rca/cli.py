"""The ``rca`` command line: a thin face over :mod:`rca.pipeline`.

Every command parses its options, calls one pipeline function and prints what it returns.
Our errors (:mod:`core.errors`) become one line on stderr, never a traceback, and exit with
their branch's status: 2 the user can fix it, 3 a server or the store is unavailable (try
again), 1 a job that ran but partly failed (a chat post, a source; an answer written but not
kept in the store); our own bug is one line and then its traceback, once, exit 1. What it prints
besides an answer (error lines and notes scrubbed of secrets, progress bars, where an answer
went) is :mod:`rca.cli_output`'s. ``rca serve`` is the one command that runs two faces in one
process: the HTTP API with the scheduler beside it. Heavy imports happen inside commands, so
``rca --help`` is instant.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from core.errors import Internal, WhydunnitError
from rca.cli_output import configured_scrub, emit, error_line, internal, note_line, progress_bar, scrubbing

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="whydunnit: why did the metric get worse? Causal root-cause analysis for engineering metrics.")
graph_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Inspect and check causal graphs.")
app.add_typer(graph_app, name="graph")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="rca.yaml (default: $RCA_CONFIG, ./rca.yaml)")]


class Format(StrEnum):
    json = "json"
    md = "md"
    html = "html"


def _settings(config: Path | None, **overrides: object):
    from rca import pipeline

    return pipeline.settings(config, **overrides)


@app.command()
def demo(
    out: Annotated[Path | None, typer.Option("--out", help="folder for the reports")] = None,
    config: ConfigOpt = None,
) -> None:
    """Analyse a generated sample organisation with a known regression and write its report."""
    from rich.console import Console

    from rca import pipeline
    from results.causes import top_cause
    from results.effect_wording import top_lever

    console = Console(stderr=True)
    settings = _settings(config)
    with console.status("Generating the sample, fitting the causal model, attributing the change, "
                        "estimating an effect and ranking the levers..."):
        outcome = pipeline.demo(settings, out)
    r = outcome.result
    top = top_cause(r)
    typer.echo(f"report: {outcome.reports.get('html', next(iter(outcome.reports.values())))}")
    typer.echo(f"{r.target}: {r.observed.baseline:.4g} -> {r.observed.current:.4g}; "
               f"regression {'detected' if r.regression.detected else 'not detected'} (score {r.regression.score:.1f})")
    if top is not None:
        typer.echo(f"top cause: {top.node} ({top.share * 100:.0f}% of the change"
                   f"{', significant' if top.significant else ''}); injected: {outcome.injected_cause}")
    lever = top_lever(outcome.recommendations) if outcome.recommendations is not None else None
    if lever is not None:
        typer.echo(f"recommended lever: {lever.lever}: {lever.sentence}")
    if outcome.effect is not None:
        typer.echo(f"effect of {outcome.effect.treatment} on {outcome.effect.outcome}: {outcome.effect.answer}")
    typer.echo(f"time: fit {r.timings_s['fit']:.2f} s, attribution {r.timings_s['attribute']:.2f} s, "
               f"intervals {r.timings_s['intervals']:.2f} s"
               + (f", effect {outcome.effect.timings_s.get('total', 0):.2f} s" if outcome.effect is not None else "")
               + (f", recommendations {outcome.recommendations.timings_s.get('total', 0):.2f} s"
                  if outcome.recommendations is not None else ""))


@app.command()
def report(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="write the report, print the chat payloads, post nothing")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="folder for the reports (default: reports.out_dir)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Run the scheduled report once: investigate the configured targets, write the report, post to chat."""
    import json

    from rich.console import Console

    from rca import pipeline

    settings = _settings(config)
    with Console(stderr=True).status("Investigating the configured targets and writing the report..."):
        outcome = pipeline.report(settings, dry_run=dry_run, out_dir=out)
    scrub = scrubbing(settings)
    for fmt, path in outcome.reports.items():
        typer.echo(f"{fmt}: {path}", err=True)
    for r in outcome.results:
        typer.echo(f"{r.scope} {r.target}: {r.observed.baseline:.4g} -> {r.observed.current:.4g}, "
                   f"{'regression' if r.regression.detected else 'no regression'}", err=True)
    for line in outcome.skipped:
        typer.echo(f"not investigated: {scrub(line)}", err=True)
    if dry_run:
        sys.stdout.write(json.dumps(outcome.payloads, indent=2, ensure_ascii=False) + "\n")
    for d in outcome.deliveries:
        typer.echo(f"posted to {d.channel} ({d.kind}): {'ok' if d.ok else 'FAILED: ' + scrub(d.error)}", err=True)
    failed = [d for d in outcome.deliveries if not d.ok]
    if failed:
        error_line(f"{len(failed)} of {len(outcome.deliveries)} chat post(s) failed; the report is written and the "
             f"failures are recorded in {outcome.failures_path}")
    if outcome.skipped:
        error_line(f"{len(outcome.skipped)} configured target(s) could not be investigated; the others are in the report")
    if not outcome.ok:
        raise typer.Exit(1)


@app.command()
def investigate(
    target: Annotated[str, typer.Option("--target", "-t", help="the graph node to explain")],
    graph: Annotated[str, typer.Option("--graph", "-g", help="graph file (.yaml or .dot) or a shipped name")],
    data: Annotated[Path | None, typer.Option(
        "--data", "-d", help="CSV or Parquet: first column time, one column per node (default: the store)")] = None,
    at: Annotated[str | None, typer.Option("--at", help="anomaly: a time, or START..END for a short window")] = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="START..END (change: before; anomaly: fit window)")] = None,
    current: Annotated[str | None, typer.Option("--current", help="START..END: the window that got worse")] = None,
    last: Annotated[str | None, typer.Option(
        "--last", help="change: that span to the latest data against the one before (e.g. '13 weeks')")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="json, md or html")] = Format.json,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here instead of stdout")] = None,
    scope: Annotated[str, typer.Option("--scope", help="with --data: a label; without: the store's scope to read")] = "",
    seed: Annotated[int | None, typer.Option("--seed", help="random seed (default from config: 0)")] = None,
    bootstrap: Annotated[int | None, typer.Option("--bootstrap", help="resamples for intervals (0: off)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Explain a metric's anomaly (--at) or change (--baseline/--current, or --last), from a table or the store."""
    from rca import pipeline

    engine = {k: v for k, v in {"seed": seed, "bootstrap": bootstrap}.items() if v is not None}
    settings = _settings(config, engine=engine)
    request = pipeline.request(target=target, graph=graph, scope=scope, at=at, baseline=baseline, current=current,
                               last=last)
    done = pipeline.investigate(request, settings, data=data, formats=[fmt.value])
    emit(done, fmt.value, out, "investigation", scrubbing(settings))


@app.command("what-if")
def what_if(
    target: Annotated[str, typer.Option("--target", "-t", help="the graph node to predict")],
    graph: Annotated[str, typer.Option("--graph", "-g", help="graph file (.yaml or .dot) or a shipped name")],
    set_: Annotated[list[str], typer.Option("--set", "-s", help="NODE=NUMBER to impose (repeatable)")],
    data: Annotated[Path | None, typer.Option("--data", "-d", help="CSV or Parquet (default: the store)")] = None,
    scope: Annotated[str, typer.Option("--scope", help="without --data: the store's scope to read")] = "",
    window: Annotated[str | None, typer.Option(
        "--window", help="START..END: what the target would have been over those rows (a counterfactual)")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="random seed (default from config: 0)")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="json, md or html")] = Format.json,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here instead of stdout")] = None,
    config: ConfigOpt = None,
) -> None:
    """Predict a metric had some nodes been held at values: an intervention, or over a window a counterfactual."""
    from rca import pipeline

    settings = _settings(config)
    answer = pipeline.what_if(target, _values(set_), settings, graph=graph, data=data, scope=scope, seed=seed,
                              window=window, formats=[fmt.value])
    emit(answer, fmt.value, out, "what-if", scrubbing(settings))


def _values(pairs: list[str]) -> dict[str, float]:
    """``NODE=VALUE`` pairs (the last ``=`` splits, so a node name may contain one) as a mapping."""
    out: dict[str, float] = {}
    for pair in pairs:
        node, sep, value = pair.rpartition("=")
        try:
            if not sep or not node:
                raise ValueError
            out[node] = float(value)
        except ValueError:
            from rca.pipeline import BadInput

            raise BadInput(f"--set {pair!r} must be NODE=NUMBER, e.g. line_coverage_ratio=0.8") from None
    return out


GraphOpt = Annotated[str, typer.Option("--graph", "-g", help="graph file (.yaml or .dot) or a shipped name")]
DataOpt = Annotated[Path | None, typer.Option(
    "--data", "-d", help="CSV or Parquet: wide (time, then nodes; a scope column for several scopes) or long")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="json, md or html")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="write here instead of stdout")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="random seed (default from config: 0)")]
ConfidenceOpt = Annotated[float, typer.Option("--confidence", help="coverage of the intervals")]


@app.command()
def effect(
    treatment: Annotated[str, typer.Option("--treatment", "-T", help="the node whose effect is asked (what you change)")],
    outcome: Annotated[str, typer.Option("--outcome", "-y", help="the node it acts on")],
    graph: GraphOpt = "delivery",
    data: DataOpt = None,
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", "-s", help="scope to read (repeatable: pooled, or compared with --by-scope); default: every one")] = None,
    by_scope: Annotated[bool, typer.Option(
        "--by-scope", help="one effect per scope (EconML: a causal forest, or LinearDML on few rows), not pooled")] = False,
    feature: Annotated[list[str] | None, typer.Option(
        "--feature", help="with --by-scope: a column of the data the effect may vary with (repeatable)")] = None,
    fmt: FormatOpt = Format.json,
    out: OutOpt = None,
    seed: SeedOpt = None,
    simulations: Annotated[int, typer.Option("--simulations", help="re-estimations per refutation check")] = 50,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="resamples for bootstrap intervals")] = 200,
    refute: Annotated[bool, typer.Option("--refute/--no-refute", help="run the refutation checks")] = True,
    confidence: ConfidenceOpt = 0.95,
    config: ConfigOpt = None,
) -> None:
    """What does TREATMENT do to OUTCOME? The average causal effect, identified, estimated and refuted."""
    from rich.console import Console

    from rca import pipeline

    settings = _settings(config)
    scopes = tuple(scope or ())
    if feature and not by_scope:
        raise pipeline.BadInput("--feature goes with --by-scope (features describe how scopes differ)")
    with Console(stderr=True).status("Identifying, estimating and refuting the effect..."):
        if by_scope:
            answer = pipeline.effects_by_scope(treatment, outcome, settings, graph=graph, data=data, scopes=scopes,
                                               features=tuple(feature or ()), seed=seed, confidence=confidence,
                                               formats=[fmt.value])
        else:
            answer = pipeline.effect(treatment, outcome, settings, graph=graph, data=data, scopes=scopes, seed=seed,
                                     confidence=confidence, simulations=simulations, bootstrap=bootstrap,
                                     refute=refute, formats=[fmt.value])
    emit(answer, fmt.value, out, "effects by scope" if by_scope else "effect", scrubbing(settings))


@app.command()
def recommend(
    target: Annotated[str, typer.Option("--target", "-t", help="the node to improve")],
    graph: GraphOpt = "delivery",
    data: DataOpt = None,
    scope: Annotated[str, typer.Option("--scope", "-s", help="the scope to read (default: the only one)")] = "",
    lever: Annotated[list[str] | None, typer.Option(
        "--lever", help="rank only these nodes (repeatable; default: every node upstream not marked actionable: false)")
    ] = None,
    actions: Annotated[Path | None, typer.Option(
        "--actions", help="YAML file of candidate actions (named sets of node moves) to rank instead of single levers")
    ] = None,
    ask_model: Annotated[bool, typer.Option(
        "--ask-model", help="also rank actions drafted by the model configured under recommend.drafts")] = False,
    fmt: FormatOpt = Format.json,
    out: OutOpt = None,
    seed: SeedOpt = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="refits behind the intervals")] = 100,
    confidence: ConfidenceOpt = 0.95,
    config: ConfigOpt = None,
) -> None:
    """What should we change? TARGET's levers, or candidate actions, ranked by what each would bring."""
    from rich.console import Console

    from rca import pipeline

    settings = _settings(config)
    if actions is not None or ask_model:
        if lever:
            raise pipeline.BadInput("--lever ranks single levers; with --actions or --ask-model the actions say what moves")
        with Console(stderr=True).status("Fitting the model and ranking the candidate actions..."):
            answer = pipeline.actions(target, settings, graph=graph, data=data, scope=scope, actions_file=actions,
                                      ask_model=ask_model, seed=seed, confidence=confidence, bootstrap=bootstrap,
                                      formats=[fmt.value])
        emit(answer, fmt.value, out, "actions", scrubbing(settings))
        return
    with Console(stderr=True).status("Fitting the model and moving each lever..."):
        answer = pipeline.recommendations(target, settings, graph=graph, data=data, scope=scope, levers=lever or None,
                                          seed=seed, confidence=confidence, bootstrap=bootstrap, formats=[fmt.value])
    emit(answer, fmt.value, out, "recommendations", scrubbing(settings))


class Level(StrEnum):
    week = "week"
    day = "day"
    commit = "commit"


@app.command()
def collect(
    git_path: Annotated[Path | None, typer.Option("--git", help="read this repository, no config")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="with --git: .csv or .parquet")] = None,
    level: Annotated[Level, typer.Option("--level", help="with --git: week, day or commit")] = Level.week,
    branch: Annotated[str | None, typer.Option("--branch", help="with --git: branch to follow")] = None,
    since: Annotated[str | None, typer.Option("--since", help="with --git: first commit date (UTC)")] = None,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="with --git: a path prefix")] = None,
    szz: Annotated[bool | None, typer.Option(
        "--szz/--no-szz", help="with --git: find bug-introducing commits (default: the config's git.szz)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Run the configured collectors into the store, or write one repository's table (--git, --out)."""
    from rca import pipeline

    settings = _settings(config)
    if git_path is not None:
        if out is None:
            raise pipeline.BadInput("--git needs --out FILE (.csv or .parquet)")
        bar, update = progress_bar(scrubbing(settings))
        with bar:
            res = pipeline.export_git(git_path, out, level.value, settings=settings, branch=branch,
                                      since=since, scopes=tuple(scope or ()), szz=szz, progress=update)
        for note in res.notes:
            note_line(note, scrubbing(settings))
        typer.echo(f"wrote {res.path}: {res.rows} row{'' if res.rows == 1 else 's'} from {res.commits_read} "
                   f"commit{'' if res.commits_read == 1 else 's'}")
        return
    if out is not None:
        raise pipeline.BadInput("--out only goes with --git PATH; `rca collect` alone writes to the store")
    if szz is not None:
        raise pipeline.BadInput("--szz/--no-szz only go with --git PATH; for the store, set git.szz in rca.yaml")
    bar, update = progress_bar(scrubbing(settings))
    with bar:
        outcome = pipeline.collect(settings, progress=update)
    scrub = scrubbing(settings)
    for run in outcome.runs:
        for note in run.notes:
            note_line(note, scrub)
        for line in run.lines:
            typer.echo(f"{run.name}: {scrub(line)}")
        for failure in run.failures:
            error_line(f"{run.name}: {failure}", scrub)
        if run.error:
            error_line(f"{run.name}: {run.error}", scrub)
    typer.echo(f"stored {outcome.rows_written} observations in {outcome.store}")
    if not outcome.ok:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option("--host", help="address to listen on (default: serve.host)")] = None,
    port: Annotated[int | None, typer.Option("--port", "-p", help="port to listen on (default: serve.port, 8080)")] = None,
    openapi: Annotated[bool, typer.Option("--openapi", help="print the OpenAPI schema and exit")] = False,
    config: ConfigOpt = None,
) -> None:
    """Run the service: the HTTP API (token auth) and the scheduled jobs of rca.yaml, until SIGTERM."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = _settings(config, serve=overrides or None)
    # The one command that runs two faces in one process: the HTTP API, and the scheduler beside it
    # over the same service. FastAPI, uvicorn and APScheduler load only here.
    from rca import api
    from rca.scheduler import Scheduler

    if openapi:
        sys.stdout.write(api.dump_openapi(settings) + "\n")
        return
    code = api.serve(settings, alongside=Scheduler)
    if code:
        raise typer.Exit(code)


class GraphFormat(StrEnum):
    text = "text"
    dot = "dot"
    svg = "svg"
    png = "png"


@graph_app.command("show")
def graph_show(
    graph: Annotated[str, typer.Argument(help="graph file or shipped name")],
    fmt: Annotated[GraphFormat, typer.Option(
        "--format", "-f", help="text (edges), dot (Graphviz), or svg/png drawn by Graphviz's dot")] = GraphFormat.text,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here instead of stdout (png needs it)")] = None,
) -> None:
    """Validate a graph and print its edges, or write it as Graphviz DOT, SVG or PNG."""
    from rca import pipeline

    if fmt is GraphFormat.text:
        g = pipeline.graph(graph)
        typer.echo(f"graph {g.name}: unit {g.unit}, {len(g.nodes)} nodes, {len(g.edges)} edges")
        for e in g.edges:
            typer.echo(f"  {e.source} -> {e.target}" + (f"  (lag {e.lag})" if e.lag else ""))
        return
    if fmt is GraphFormat.png and out is None:
        raise pipeline.BadInput("--format png writes an image: give --out FILE.png")
    data = pipeline.graph_picture(graph, fmt.value)
    if out is None:
        sys.stdout.write(data.decode("utf-8"))
        return
    from results.io import write_atomic

    write_atomic(out, lambda tmp: tmp.write_bytes(data))
    typer.echo(f"wrote {out}", err=True)


@graph_app.command("check")
def graph_check(
    graph: Annotated[str, typer.Argument(help="graph file or shipped name")],
    data: Annotated[Path, typer.Option("--data", "-d", help="CSV or Parquet: time, then nodes")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    permutations: Annotated[int, typer.Option("--permutations", min=1, max=100_000, help="random relabellings to compare")] = 100,
    since: Annotated[str | None, typer.Option("--since", help="only the buckets from this date on")] = None,
    config: ConfigOpt = None,
) -> None:
    """Check a graph against data: edges the data do not support, dependencies it misses, fit per node."""
    import json

    from rca import pipeline

    result = pipeline.check_graph(graph, data, _settings(config), permutations=permutations, since=since)
    typer.echo(json.dumps(result.to_dict(), indent=2) if fmt == "json" else "\n".join(result.lines()))


@graph_app.command("suggest")
def graph_suggest(
    data: Annotated[Path, typer.Option("--data", "-d", help="CSV or Parquet: wide (time, then metrics) or observations")],
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the suggested graph (.yaml)")],
    from_graph: Annotated[str | None, typer.Option("--from", help="graph to start from and compare with")] = None,
    tiers: Annotated[str | None, typer.Option("--tiers", help="order, earliest first: 'a,b; c; d'")] = None,
    max_lag: Annotated[int, typer.Option("--max-lag", min=0, max=52, help="lagged edges up to this many buckets")] = 1,
    seconds: Annotated[float, typer.Option("--seconds", min=1, help="time bound for the stability resamples")] = 60,
    scope: Annotated[str, typer.Option("--scope", help="which scope of an observation table")] = "",
    since: Annotated[str | None, typer.Option("--since", help="learn from the buckets from this date on")] = None,
    config: ConfigOpt = None,
) -> None:
    """Learn a graph from data under the domain's order and print it as a diff against --from."""
    from rca import pipeline

    order = pipeline.parse_tiers(tiers) if tiers else None
    outcome = pipeline.suggest_graph(data, _settings(config), from_graph=from_graph, tiers=order, out=out, scope=scope,
                                     max_lag=max_lag, seconds=seconds, since=since)
    typer.echo("\n".join(outcome.lines()))
    typer.echo(f"wrote {outcome.path}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and turn our errors into one line and their branch's exit status."""
    # Standalone mode lets the command-line parser report usage errors itself (exit 2) and
    # re-raises everything else, so our own input errors arrive here as exceptions.
    try:
        app(args=argv, prog_name="rca")
    except OSError as exc:
        error_line(f"{exc.strerror or exc}: {exc.filename}" if getattr(exc, "filename", None) else str(exc),
             configured_scrub(argv))
        sys.exit(1)
    except Internal as exc:
        internal(exc, configured_scrub(argv))
    except WhydunnitError as exc:
        # One line and the branch's exit status: 2 the user can fix it, 3 try again later, 1 partly failed.
        error_line(str(exc), configured_scrub(argv))
        sys.exit(exc.exit_code)
    except Exception as exc:  # our own bug
        internal(exc, configured_scrub(argv))


if __name__ == "__main__":
    main()
