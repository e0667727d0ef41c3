"""Collection: run the configured collectors into the store, or export one repository's table.

Every collector whose section of ``rca.yaml`` asks for something runs in turn
(:data:`collectors.NAMES`). Each gets the state it saved last time and its result lands in
one transaction of its own: its observations, the rows they supersede and its new state, all
or nothing. A collector that fails is recorded and the others still run; the outcome says
which failed and why, and a face turns that into a non-zero exit or a failed run.

Exporting one repository (:func:`export_git`) needs neither the store nor, for a CSV file,
pandas: the rows go straight to the csv module, so the command costs little more than the
``git log`` it runs. Both report their phases through a :data:`collectors.base.Progress` (a bar on
a terminal, :func:`collectors.base.progress_lines` in a log): each repository's commits read and
SZZ, and the rows written.
"""

from __future__ import annotations

import csv
import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import collectors
from collectors.base import Collected, Collector, Progress, merged
from core.errors import BadInput, InputError
from core.observations import COLUMNS
from core.times import parse_time
from rca.config import Settings
from rca.pipeline.compute import on_cluster
from results.io import write_atomic

if TYPE_CHECKING:
    from rca.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectorRun:
    """What one collector did in one run."""

    name: str
    rows: int = 0
    lines: tuple[str, ...] = ()
    units: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()  # parts that failed while the rest landed
    error: str | None = None  # the collector failed as a whole: nothing of it was stored

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failures


@dataclass(frozen=True)
class CollectOutcome:
    runs: tuple[CollectorRun, ...]
    store: str  # the store's URL, credentials masked

    @property
    def rows_written(self) -> int:
        return sum(r.rows for r in self.runs)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)

    def run(self, name: str) -> CollectorRun:
        """What the collector ``name`` did in this run."""
        return next(r for r in self.runs if r.name == name)


@on_cluster
def collect(settings: Settings, progress: Progress | None = None, *, only: Sequence[str] = ()) -> CollectOutcome:
    """Run every configured collector (or those named in ``only``) into the store."""
    from rca.store import Store

    names = [n for n in collectors.NAMES if not only or n in only]
    chosen = [(n, getattr(settings, n)) for n in names if getattr(settings, n).configured]
    if not chosen:
        raise BadInput("nothing to collect: configure a source (git: repos, files: tables, ...) in rca.yaml, "
                       "or export one repository with rca collect --git PATH --out FILE")
    runs = []
    with Store(settings.store_url) as store:
        for name, section in chosen:
            runs.append(_run_one(store, name, section, progress))
        return CollectOutcome(tuple(runs), store.shown)


def _run_one(store: Store, name: str, section: object, progress: Progress | None) -> CollectorRun:
    collector = collectors.load(name)
    try:
        got = _collected(collector, section, store.states(name), progress)
        stage, todo = f"{name}: observations written to the store", len(got.observations)
        if progress is not None:
            progress(stage, 0, todo)
        rows = store.write(got.observations, replace=got.replaces,
                           state={(name, key): value for key, value in got.state.items()})
        if progress is not None:
            progress(stage, todo, todo)
    except InputError as exc:  # this source failed: record it, keep going with the others
        return CollectorRun(name, error=str(exc))
    except Exception as exc:  # a fault of ours must not cost the other sources their run either
        log.exception("collector %s failed", name)
        return CollectorRun(name, error=f"internal error in the {name} collector: {type(exc).__name__}: {exc}")
    return CollectorRun(name, rows, got.lines, got.units, got.notes, got.failures)


def _collected(collector: Collector, section: Any, state: Mapping[str, Any], progress: Progress | None) -> Collected:
    """Run ``collector`` on ``section``; on a Dask cluster, part by part (a repository each) on its workers.

    Each part gets its own saved state and no progress callback (it may run in another process);
    the parts' results are merged in order, so the store still gets one write.
    """
    from rca.engine.parallel import on_dask, tasks

    parts = collector.parts(section, state) if collector.parts is not None and on_dask() else []
    if len(parts) < 2:
        return collector.collect(section, state, progress)
    return merged(tasks(functools.partial(_collect_part, collector.collect), parts))


def _collect_part(collect: Callable[..., Collected], part: tuple[Any, Mapping[str, Any]]) -> Collected:
    section, state = part
    return collect(section, state, None)


@dataclass(frozen=True)
class TableOutcome:
    path: Path
    rows: int
    commits_read: int
    notes: tuple[str, ...]


def export_git(path: str | Path, out: str | Path, level: str = "week", *, settings: Settings | None = None,
               branch: str | None = None, since: str | None = None, scopes: tuple[str, ...] = (),
               szz: bool | None = None, progress: Progress | None = None) -> TableOutcome:
    """Read one repository without a store and write its observation table (or, with
    ``level="commit"``, its per-commit table) to CSV or Parquet, chosen by ``out``'s suffix.
    ``szz`` overrides the configuration's ``git.szz`` (False: no bug-introducing figures, faster)."""
    from collectors.git import COMMIT_COLUMNS, RepoSpec, collect_repo
    from collectors.git_rules import GitSettings

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise BadInput(f"cannot write {str(out)!r}: use a .csv or .parquet file name")
    if level not in ("commit", "day", "week"):
        raise BadInput(f"unknown level {level!r}; use commit, day or week")
    rules = settings.git if settings is not None else GitSettings()
    update: dict[str, Any] = {} if szz is None else {"szz": szz}
    if level != "commit":
        update["bucket"] = level
    if update:
        rules = rules.model_copy(update=update)
    res = collect_repo(RepoSpec(Path(path), "", branch, parse_time(since) if since else None, tuple(scopes)),
                       rules, None, progress)
    rows = res.commits_read if level == "commit" else len(res.observation_rows)
    stage = f"{out.name}: rows written"
    if progress is not None:
        progress(stage, 0, rows)
    if suffix == ".csv":  # the csv module writes what pandas' to_csv would, without loading pandas
        header, records = ((COMMIT_COLUMNS, res.commit_records()) if level == "commit"
                           else (COLUMNS, res.observation_records()))
        write_atomic(out, lambda tmp: _write_csv(tmp, header, records))
    else:
        table = res.commits if level == "commit" else res.observations
        write_atomic(out, lambda tmp: table.to_parquet(tmp, index=False))
    if progress is not None:
        progress(stage, rows, rows)
    return TableOutcome(out, rows, res.commits_read, res.notes)


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) in an author's name).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A CSV file as pandas writes one: UTF-8, ``\\n`` line ends, minimal quoting, ``None`` as empty;
    but a text cell a spreadsheet would take for a formula gets a leading ``'`` (OWASP's advice for
    CSV injection; numbers are never text here, so a negative one stays as it is), and a row with a
    carriage return in a text cell has its text quoted (the csv module and pandas leave a bare one,
    which readers take for the end of the row: a forged row)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(header)
        for row in rows:
            cells = [f"'{c}" if c.__class__ is str and c.startswith(_FORMULA_START) else c for c in row]
            if any(c.__class__ is str and "\r" in c for c in cells):
                fh.write(",".join(_quoted(c) for c in cells) + "\n")
            else:
                out.writerow(cells)


def _quoted(cell: Any) -> str:
    """One cell as the csv module writes it, text always quoted."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return '"' + cell.replace('"', '""') + '"'
    return repr(cell) if isinstance(cell, float) else str(cell)
