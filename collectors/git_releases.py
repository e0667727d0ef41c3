"""Releases: the tags reachable from the followed branch, each in the bucket of its date."""

from __future__ import annotations

from collections import Counter

from collectors import git_buckets as gb
from collectors.git_cmd import Repo
from collectors.git_log import LATEST_TIME
from core.observations import bucket_of


def release_touched(summaries: gb.Summaries, old: list[int], new: list[int]) -> set[tuple[str, str]]:
    """The buckets whose release figures a change of releases alters: from the first bucket that differs on."""
    if old == new:
        return set()
    before, after = Counter(old), Counter(new)
    since = min((before - after) | (after - before))  # the first bucket whose count of releases differs
    return {(sc, key) for sc, keys in summaries.items() for key in keys if int(key) >= since}


def release_buckets(repo: Repo, tip: str, bucket: str) -> list[int]:
    """The bucket start of every release, sorted: each tag reachable from the branch's tip, by its date
    (an annotated tag's tagger date, a lightweight tag's commit date)."""
    out = repo.text("for-each-ref", f"--merged={tip}", "--format=%(creatordate:unix)", "refs/tags")
    starts = []
    for line in out.split():
        if line.isdigit() and 0 < int(line) < LATEST_TIME:  # a tag without a readable date is no release date
            starts.append(bucket_of(int(line), bucket))
    return sorted(starts)
