"""The Git collector: commits, churn, authorship, bug fixes and bug-introducing commits (SZZ).

:func:`collect_repo` reads one branch of one repository with a single streaming
``git log --numstat`` pass (:mod:`collectors.git_log`), classifies each commit with the rules
of :mod:`collectors.git_rules`, finds bug-introducing commits by blaming what fixes changed
(:mod:`collectors.git_szz`), measures lead time from the first commit of each merged branch
to its merge, and returns the per-commit table, the bucketed observation table
(:mod:`collectors.git_buckets`) and a plain JSON-able state saying what it has seen. Given
that state back, it reads only the new commits; if the history was rewritten (the old head
is no longer an ancestor of the branch) or the rules changed, it re-reads everything and
says so, so the caller can replace what it stored. It knows nothing of the store.

The tables come as plain rows (what a CSV export needs, without pandas) and as DataFrames
made on first use (:attr:`GitResult.commits`, :attr:`GitResult.observations`).
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectors import git_buckets as gb
from collectors.base import Collected, Collector, Progress, Replace
from collectors.git_cmd import GitError, Repo, failure, open_repo, resolve_branch
from collectors.git_log import CommitRecord, readable, stream_log
from collectors.git_merges import Merged, lead_times
from collectors.git_releases import release_buckets, release_touched
from collectors.git_rules import Classifier, GitRepoSettings, GitRules, GitSettings, RepoSpec, identity, repo_label
from collectors.git_szz import BlameLink, FixInput, commit_graph_env, ignore_revs_file, run_szz
from core.errors import InputError
from core.observations import bucket_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLLECTOR", "COMMIT_COLUMNS", "GitRepoSettings", "GitResult", "GitRules", "GitSettings", "RepoSpec",
           "collect", "collect_repo", "commit_table", "open_repo", "repo_label"]

STATE_VERSION = 2  # 2: summaries hold reverts, merge sizes and fix lags; the state the releases
_GRAPH_FROM_FIXES = 30  # below this many fixes to blame, a scratch commit-graph costs more than it saves

COMMIT_COLUMNS: tuple[str, ...] = (
    "repo", "sha", "author_time", "committer_time", "author", "author_name", "is_merge", "lines_added",
    "lines_deleted", "files_touched", "binary_files", "renamed_files", "test_lines_changed",
    "experience_commits", "is_newcomer", "is_bug_fix", "fix_kind", "issue_ref", "reverts",
    "is_bug_introducing", "time_to_fix_seconds", "lead_time_seconds",
)


_TIME_COLUMNS = (COMMIT_COLUMNS.index("author_time"), COMMIT_COLUMNS.index("committer_time"))


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class GitResult:
    label: str
    branch: str
    head: str
    commits_read: int            # commits read in this run
    observation_rows: list[tuple[int, str, str, float]]  # the buckets this run touched: (start s, scope, metric, value)
    state: dict[str, Any]        # give it back next time to read only new commits
    full_read: bool              # True: everything was (re-)read; replace what was stored
    scopes: tuple[str, ...]      # every scope this repository's observations use
    notes: tuple[str, ...]       # things the user should know (shallow clone, rewritten history...)
    make_commit_rows: Callable[[], list[tuple]] = field(default=list, repr=False, compare=False)

    @cached_property
    def commit_rows(self) -> list[tuple]:
        """One row per commit read in this run, oldest first (COMMIT_COLUMNS; times in Unix seconds),
        made when first asked for (an export of buckets never needs them)."""
        return self.make_commit_rows()

    @cached_property
    def commits(self) -> pd.DataFrame:
        """The per-commit table (COMMIT_COLUMNS, typed)."""
        return _commit_frame(self.commit_rows)

    @cached_property
    def observations(self) -> pd.DataFrame:
        """The observation table of the buckets this run touched."""
        return gb.frame(self.observation_rows)

    def commit_records(self) -> Iterator[tuple]:
        """The per-commit rows as plain values, times as UTC datetimes (what :attr:`commits` holds)."""
        a, c = _TIME_COLUMNS
        for row in self.commit_rows:
            out = list(row)
            out[a], out[c] = _utc(row[a]), _utc(row[c])
            yield tuple(out)

    def observation_records(self) -> Iterator[tuple]:
        """The observation rows as plain values in the columns of :data:`core.observations.COLUMNS`
        (ts as a UTC datetime)."""
        for ts, scope, metric, value in self.observation_rows:
            yield _utc(ts), scope, metric, value, "git"


def _shallow_boundary(repo: Repo) -> frozenset[str]:
    f = repo.shallow_file
    return frozenset(f.read_text().split()) if f.is_file() else frozenset()


def _is_ancestor(repo: Repo, old: str, new: str) -> bool:
    return repo.ok("merge-base", "--is-ancestor", old, new)


def _since_arg(since: pd.Timestamp | None) -> tuple[str, ...]:
    return () if since is None else (f"--since={since.isoformat()}",)


def _seed_authors(repo: Repo, tip: str, since: pd.Timestamp) -> Counter[str]:
    """Commit counts per author before ``since``: experience counts the whole history."""
    out = repo.run("log", "--format=%aN%x00%aE", f"--until={since.isoformat()}", tip)
    counts: Counter[str] = Counter()
    for line in out.split(b"\n"):
        if line:
            name, _, email = line.partition(b"\x00")
            if name == b"%aN" and email == b"%aE":  # no author line (as in collectors.git_log)
                name = email = b""
            counts[identity(name.decode("utf-8", "replace"), email.decode("utf-8", "replace"))] += 1
    return counts


@dataclass(frozen=True)
class _Plan:
    full: bool
    revs: list[str]
    state: dict[str, Any]
    notes: tuple[str, ...]


def _plan(repo: Repo, spec: RepoSpec, branch: str, tip: str, rules: GitRules, shallow: bool,
          state: Mapping[str, Any] | None) -> _Plan:
    since = spec.since.isoformat() if spec.since is not None else None
    fresh = {"version": STATE_VERSION, "branch": branch, "head": None, "rules": rules.fingerprint(spec.scopes),
             "since": since, "shallow": shallow, "authors": {}, "buckets": {}, "bic": [], "commits": 0}
    if not state:
        return _Plan(True, [tip], fresh, ())
    same = (state.get("version") == STATE_VERSION and state.get("rules") == rules.fingerprint(spec.scopes)
            and state.get("since") == since and state.get("shallow") == shallow)
    if not same:
        return _Plan(True, [tip], fresh, ("the rules, the since bound or the clone's depth changed since "
                                          "the last run: re-read the whole history",))
    old = state.get("head")
    if old == tip:
        return _Plan(False, [], dict(state), ())
    if not old or not _is_ancestor(repo, old, tip):
        return _Plan(True, [tip], fresh, (f"history of {branch!r} was rewritten (the last run's head "
                                          f"{str(old)[:12]} is no longer an ancestor): re-read it all",))
    return _Plan(False, [f"^{old}", tip], dict(state), ())


def _resolve(repo: Repo, short: str, records: dict[str, CommitRecord]) -> str | None:
    if len(short) == 40 and short in records:
        return short
    try:
        return repo.text("rev-parse", "--verify", "--quiet", f"{short}^{{commit}}")
    except GitError:
        return None


def _szz(repo: Repo, recs: list[CommitRecord], records: dict[str, CommitRecord], rules: GitRules,
         tip: str, label: str, progress: Progress | None) -> tuple[list[BlameLink], list[str]]:
    notes: list[str] = []
    links: list[BlameLink] = []
    fixes: list[FixInput] = []
    large = 0
    for r in recs:
        v = r.verdict
        if not v.is_fix or r.is_merge or not r.parents:
            continue
        if v.kind == "revert":
            # the commit it names is bug-introducing only if it is in the revert's own history
            # (so on the followed branch): a squash merge may quote the revert of a commit of its
            # pull request, which never landed
            bug = _resolve(repo, v.reverts, records) if v.reverts else None
            if bug is not None and bug != r.sha and _is_ancestor(repo, bug, r.sha):
                known = records.get(bug)
                links.append(BlameLink(r.sha, bug, known.author_ts if known else -1))
            continue
        if r.files > rules.szz_max_files:
            large += 1
            continue
        fixes.append(FixInput(r.sha, r.parents[0], r.author_ts))
    if large:
        notes.append(f"{label}: SZZ skipped {large} fix(es) touching more than {rules.szz_max_files} files")
    cb = (lambda done, total: progress(f"{label}: SZZ, fixes blamed", done, total)) if progress else None
    with tempfile.TemporaryDirectory(prefix="rca-git-") as tmp:
        env = commit_graph_env(repo, os.path.join(tmp, "objects")) if len(fixes) >= _GRAPH_FROM_FIXES else None
        found, failures = run_szz(repo, fixes, ignore_file=ignore_revs_file(repo, tip, tmp),
                                  workers=rules.szz_workers, env=env, progress=cb)
    if failures:
        notes.append(f"{label}: git blame failed on {failures} file(s); their lines were not blamed")
    return links + found, notes


def _lookup(repo: Repo, shas: Iterable[str], rules: GitRules, prefixes: tuple[str, ...]) -> dict[str, CommitRecord]:
    todo = sorted(set(shas))
    if not todo:
        return {}
    recs = stream_log(repo, todo, Classifier(rules), prefixes, extra=("--no-walk=unsorted",))
    return {r.sha: r for r in recs if readable(r)}


def _scopes_of(label: str, prefixes: Iterable[str]) -> list[str]:
    return [label, *(f"{label}/{p.rstrip('/')}" for p in prefixes)]


def collect_repo(spec: RepoSpec, rules: GitRules | None = None, state: Mapping[str, Any] | None = None,
                 progress: Progress | None = None) -> GitResult:
    """Read one repository's branch (only what is new since ``state``) into tables and new state."""
    label = spec.label or repo_label(spec.path)
    rules = rules or GitRules()
    repo = open_repo(spec.path, rules.timeout_s)
    try:
        return _collect(repo, spec, label, rules, Classifier(rules), state, progress)
    except GitError as exc:
        raise InputError(f"git failed on {label!r}: {failure(exc)}") from None


def _collect(repo: Repo, spec: RepoSpec, label: str, rules: GitRules, classifier: Classifier,
             state: Mapping[str, Any] | None, progress: Progress | None) -> GitResult:
    where = repr(str(spec.path))
    branch, tip = resolve_branch(repo, spec.branch, where)
    shallow = repo.shallow
    plan = _plan(repo, spec, branch, tip, rules, shallow, state)
    notes = list(plan.notes)
    st = plan.state
    prefixes = spec.scopes
    current = _scopes_of(label, prefixes)
    # a full re-read replaces the scopes earlier runs wrote too (e.g. a prefix since removed)
    all_scopes = tuple(dict.fromkeys([*current, *(state or {}).get("scopes", [])]))
    if not plan.revs:  # no new commit, but a tag may have come
        releases = release_buckets(repo, tip, rules.bucket)
        keys = release_touched(st["buckets"], st.get("releases", []), releases)
        st = {**st, "releases": releases}
        obs = gb.observation_rows(st["buckets"], keys, szz=rules.szz and not shallow, releases=releases)
        return GitResult(label, branch, tip, 0, obs, st, False, all_scopes, tuple(notes))
    boundary = _shallow_boundary(repo) if shallow else frozenset()
    if shallow:
        notes.append(f"{label}: shallow clone: SZZ and author experience need the full history, so they "
                     "were not computed (no bug-introducing or newcomer figures); "
                     f"{len(boundary)} boundary commit(s) whose parents are missing were left out; "
                     "run `git fetch --unshallow` for everything")
    since_args = _since_arg(spec.since) if plan.full else ()
    authors: Counter[str] = Counter(st["authors"])
    if plan.full and spec.since is not None and not shallow:
        authors = _seed_authors(repo, tip, spec.since)
    total = None
    if progress is not None:
        total = int(repo.text("rev-list", "--count", *since_args, *plan.revs))
        progress(f"{label}: commits read", 0, total)
    on_record = (lambda n: progress(f"{label}: commits read", n, total)) if progress else None
    recs = [r for r in stream_log(repo, plan.revs, classifier, prefixes, since_args, on_record)
            if r.sha not in boundary]
    odd = [r.sha for r in recs if not readable(r)]
    if odd:
        notes.append(f"{label}: {len(odd)} commit(s) with a commit time Git cannot read or past 2200 were left "
                     f"out (first: {odd[0][:12]})")
        recs = [r for r in recs if readable(r)]
    records = {r.sha: r for r in recs}
    experience: dict[str, int | None] = {}
    for r in recs:
        experience[r.sha] = None if shallow else authors[r.author]
        authors[r.author] += 1
    leads = lead_times(records, tip, prefixes)
    do_szz = rules.szz and not shallow
    links: list[BlameLink] = []
    if do_szz:
        links, szz_notes = _szz(repo, recs, records, rules, tip, label, progress)
        notes.extend(szz_notes)
    summaries: gb.Summaries = st["buckets"] if plan.full else copy.deepcopy(st["buckets"])  # caller's stays
    touched: set[tuple[str, str]] = set()
    _add_records(summaries, touched, recs, experience, leads, label, rules)
    bic_info = _add_bugs(repo, summaries, touched, links, records, set(st["bic"]), spec, label, rules, plan.full)
    new_state = {**st, "head": tip, "branch": branch, "scopes": current, "authors": dict(authors), "buckets": summaries,
                 "bic": sorted(set(st["bic"]) | bic_info.counted), "commits": st["commits"] + len(recs)}
    releases = release_buckets(repo, tip, rules.bucket)
    touched |= release_touched(summaries, st.get("releases", []), releases)
    new_state["releases"] = releases
    obs = gb.observation_rows(summaries, touched, szz=do_szz, releases=releases)
    return GitResult(label, branch, tip, len(recs), obs, new_state, plan.full, all_scopes, tuple(notes),
                     lambda: _commit_rows(recs, label, experience, leads, bic_info.first_fix, rules))


def _add_records(summaries: gb.Summaries, touched: set[tuple[str, str]], recs: list[CommitRecord],
                 experience: dict[str, int | None], leads: dict[str, Merged], label: str,
                 rules: GitRules) -> None:
    for r in recs:
        bucket = bucket_of(r.committer_ts, rules.bucket)
        if r.is_merge:
            merged = leads.get(r.sha)
            s = gb.get(summaries, label, bucket, touched)
            if merged is None:  # not on the first-parent chain, or it brought in nothing new
                s["merges"] += 1
                continue
            gb.add_merge(s, lead=merged.lead, commits=merged.commits, lines=merged.lines)
            for p, (commits, lines) in merged.prefixes.items():
                gb.add_merge(gb.get(summaries, f"{label}/{p.rstrip('/')}", bucket, touched), lead=merged.lead,
                             commits=commits, lines=lines)
            continue
        exp = experience[r.sha]
        newcomer = None if exp is None else exp < rules.newcomer_threshold
        fix = r.verdict.is_fix
        revert = r.verdict.kind == "revert"
        gb.add_commit(gb.get(summaries, label, bucket, touched), author=r.author, added=r.added,
                      deleted=r.deleted, files=r.files, test=r.test_lines, newcomer=newcomer, fix=fix, revert=revert)
        for sc in r.scopes:
            gb.add_commit(gb.get(summaries, f"{label}/{sc.prefix.rstrip('/')}", bucket, touched),
                          author=r.author, added=sc.added, deleted=sc.deleted, files=sc.files,
                          test=sc.test_lines, newcomer=newcomer, fix=fix, revert=revert)


@dataclass(frozen=True)
class _Bugs:
    counted: frozenset[str]          # bug-introducing shas newly counted in their buckets
    first_fix: dict[str, int]        # bug sha -> seconds to its first fix (per-commit table)


def _add_bugs(repo: Repo, summaries: gb.Summaries, touched: set[tuple[str, str]], links: list[BlameLink],
              records: dict[str, CommitRecord], already: set[str], spec: RepoSpec, label: str, rules: GitRules,
              full: bool) -> _Bugs:
    """Count each bug-introducing commit once, in its own bucket; time-to-fix goes to the fix's bucket.

    Only commits read from the followed branch count, so a bucket never counts more
    bug-introducing commits than it counted commits: this run's (``records``) or, on an
    incremental run, earlier runs' (the old head's ancestors, which is where a blamed commit
    not read now must be). A full read looks nothing up: what it did not read (older than
    ``since``) is not counted.
    """
    looked = {} if full else _lookup(repo, {lk.bug for lk in links if lk.bug not in records}, rules, spec.scopes)
    since_ts = int(spec.since.timestamp()) if spec.since is not None else None
    counted: set[str] = set()
    first_fix: dict[str, int] = {}
    fix_lag: dict[str, int] = {}  # fix -> seconds since the latest commit it blamed
    seen_pairs: set[tuple[str, str]] = set()
    for lk in links:
        bug = records.get(lk.bug) or looked.get(lk.bug)
        if bug is None or (since_ts is not None and bug.committer_ts < since_ts):
            continue  # outside the range read
        bug_ts = bug.author_ts
        fix = records[lk.fix]
        if bug_ts >= fix.author_ts or (lk.fix, lk.bug) in seen_pairs:
            continue
        seen_pairs.add((lk.fix, lk.bug))
        ttf = fix.author_ts - bug_ts
        fb = bucket_of(fix.committer_ts, rules.bucket)
        gb.get(summaries, label, fb, touched)["ttf"].append(ttf)
        for sc in fix.scopes:
            gb.get(summaries, f"{label}/{sc.prefix.rstrip('/')}", fb, touched)["ttf"].append(ttf)
        first_fix[lk.bug] = min(ttf, first_fix.get(lk.bug, ttf))
        fix_lag[lk.fix] = min(ttf, fix_lag.get(lk.fix, ttf))
        if lk.bug in already or lk.bug in counted or bug.is_merge:
            continue
        counted.add(lk.bug)
        bb = bucket_of(bug.committer_ts, rules.bucket)
        gb.get(summaries, label, bb, touched)["bic"] += 1
        for sc in bug.scopes:
            gb.get(summaries, f"{label}/{sc.prefix.rstrip('/')}", bb, touched)["bic"] += 1
    # A fix's lag is to the latest commit it blamed, the likeliest to have brought the bug in (the older blamed
    # lines are often context the fix had to touch); it counts once, in the fix's bucket.
    for sha, lag in fix_lag.items():
        fix = records[sha]
        fb = bucket_of(fix.committer_ts, rules.bucket)
        gb.get(summaries, label, fb, touched)["fix_lag"].append(lag)
        for sc in fix.scopes:
            gb.get(summaries, f"{label}/{sc.prefix.rstrip('/')}", fb, touched)["fix_lag"].append(lag)
    return _Bugs(frozenset(counted), first_fix)


def _commit_rows(recs: list[CommitRecord], label: str, experience: dict[str, int | None],
                 leads: dict[str, Merged], first_fix: dict[str, int], rules: GitRules
                 ) -> list[tuple]:
    rows = []
    szz = rules.szz
    for r in recs:
        exp = experience[r.sha]
        v = r.verdict
        lead = leads.get(r.sha)
        rows.append((
            label, r.sha, r.author_ts, r.committer_ts, r.author, r.author_name, r.is_merge, r.added,
            r.deleted, r.files, r.binary_files, r.renamed_files, r.test_lines, exp,
            None if exp is None else exp < rules.newcomer_threshold, v.is_fix, v.kind or None, v.issue,
            v.reverts,
            (r.sha in first_fix) if szz and exp is not None else None, first_fix.get(r.sha),
            lead.lead if lead else None,
        ))
    return rows


def _commit_frame(rows: list[tuple]) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame(rows, columns=list(COMMIT_COLUMNS))
    for col in ("author_time", "committer_time"):
        df[col] = pd.to_datetime(df[col].astype("int64"), unit="s", utc=True)
    for col in ("lines_added", "lines_deleted", "files_touched", "binary_files", "renamed_files",
                "test_lines_changed"):
        df[col] = df[col].astype("int64")
    for col in ("experience_commits", "time_to_fix_seconds", "lead_time_seconds"):
        df[col] = df[col].astype("Int64")
    for col in ("is_newcomer", "is_bug_introducing"):
        df[col] = df[col].astype("boolean")
    df["is_merge"] = df["is_merge"].astype(bool)
    df["is_bug_fix"] = df["is_bug_fix"].astype(bool)
    return df


def commit_table(path: str | Path, rules: GitRules | None = None, *, branch: str | None = None,
                 since: pd.Timestamp | None = None, label: str = "",
                 progress: Progress | None = None) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The per-commit table of a branch (every commit, oldest first) and any notes about it."""
    res = collect_repo(RepoSpec(Path(path), label, branch, since), rules, None, progress)
    return res.commits, res.notes




# --- the collector seam ---------------------------------------------------------------------

def collect(settings: GitSettings, state: Mapping[str, Any], progress: Progress | None = None) -> Collected:
    """Read every configured repository (only new commits where the saved state allows).

    A full read (first run, rewritten history, changed rules) supersedes the repository's
    earlier observations; the pipeline deletes them in the same transaction that writes these.
    """
    frames, replaces, new_state, lines, notes, failures, units = [], [], {}, [], [], [], {}
    for r in settings.repos:
        key = _key(r)
        try:
            res = collect_repo(r.spec(), settings, state.get(key), progress)
        except InputError as exc:  # one broken clone must not cost the other repositories their run
            failures.append(f"{r.label}: {exc}")
            continue
        frames.append(res.observations)
        if res.full_read:
            replaces.extend(Replace(scope, "git") for scope in res.scopes)
        new_state[key] = res.state
        how = "full read" if res.full_read else "incremental"
        lines.append(f"{res.label} ({res.branch} @ {res.head[:12]}): {res.commits_read} new commit"
                     f"{'' if res.commits_read == 1 else 's'}, {how}")
        units[key] = {"commits_read": res.commits_read, "full_read": res.full_read, "head": res.head,
                      "branch": res.branch}
        notes.extend(res.notes)
    table = None
    if frames:
        import pandas as pd

        table = pd.concat([f for f in frames if not f.empty] or frames[:1], ignore_index=True)
    return Collected(**({"observations": table} if table is not None else {}), replaces=tuple(replaces),
                     state=new_state, lines=tuple(lines), units=units, notes=tuple(notes), failures=tuple(failures))


def one_per_repository(settings: GitSettings, state: Mapping[str, Any]) -> list[tuple[GitSettings, Mapping[str, Any]]]:
    """The section as one section per repository (same rules), each with its own saved state:
    the repositories are read independently."""
    return [(settings.model_copy(update={"repos": (r,)}), {k: state[k] for k in (_key(r),) if k in state})
            for r in settings.repos]


def _key(r: GitRepoSettings) -> str:
    """Where a repository's state is kept: its label and branch."""
    return f"{r.label}@{r.branch or 'HEAD'}"


COLLECTOR: Collector[GitSettings] = Collector("git", GitSettings, collect, parts=one_per_repository)
