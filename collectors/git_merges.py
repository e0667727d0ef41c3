"""What each mainline merge brought in: its lead time and its size, from the commits the log read.

The mainline is the first-parent chain from the branch's tip; each merge on it claims the
commits reachable from its other parents that no earlier merge claimed (``git rev-list P1..P2``),
which gives its lead time (first such commit to the merge) and its size in commits and lines,
whole and per scope prefix.
"""

from __future__ import annotations

from typing import NamedTuple

from collectors.git_log import CommitRecord


class Merged(NamedTuple):
    """What a mainline merge brought in: its lead time, and per scope prefix its size."""

    lead: int                                # seconds from the merged branch's first commit to the merge
    commits: int                             # commits it brought in
    lines: int                               # their added + deleted lines (merges among them carry none)
    prefixes: dict[str, tuple[int, int]]     # prefix -> (commits touching it, their lines under it)


def lead_times(records: dict[str, CommitRecord], tip: str, prefixes: tuple[str, ...]) -> dict[str, Merged]:
    """Mainline merge -> what it brought in (lead time, commits, lines).

    The mainline is the first-parent chain from the tip. Walking mainline merges oldest first,
    each claims the commits reachable from its other parents that no earlier merge (and no
    mainline commit) claimed: exactly ``git rev-list P1..P2`` for a first-parent mainline.
    """
    mainline: list[str] = []
    sha: str | None = tip
    while sha is not None and sha in records:
        mainline.append(sha)
        parents = records[sha].parents
        sha = parents[0] if parents else None
    claimed = set(mainline)
    out: dict[str, Merged] = {}
    wanted = set(prefixes)
    for m in reversed(mainline):
        rec = records[m]
        if not rec.is_merge:
            continue
        first: int | None = None
        commits = lines = 0
        per: dict[str, list[int]] = {}
        stack = [p for p in rec.parents[1:] if p in records and p not in claimed]
        while stack:
            c = stack.pop()
            if c in claimed:
                continue
            claimed.add(c)
            cr = records[c]
            first = cr.author_ts if first is None else min(first, cr.author_ts)
            commits += 1
            lines += cr.added + cr.deleted
            for sc in cr.scopes:
                if sc.prefix in wanted:
                    acc = per.setdefault(sc.prefix, [0, 0])
                    acc[0] += 1
                    acc[1] += sc.added + sc.deleted
            stack.extend(p for p in cr.parents if p in records and p not in claimed)
        if first is not None:
            out[m] = Merged(max(0, rec.committer_ts - first), commits, lines,
                             {p: (c, n) for p, (c, n) in per.items()})
    return out
