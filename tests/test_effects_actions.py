"""Candidate actions ranked on the causal model (`rca recommend --actions`, `--ask-model`): a user's file, and
drafts from a real HTTP server on loopback that speaks the OpenAI chat-completions protocol, canned and hostile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rca import sample
from tests.llm_server import FakeModel, Reply

KEY = "sk-test-0123456789abcdefSECRET"
ACTIONS = """
actions:
  - name: coverage push
    set:
      line_coverage_ratio: "+10"
  - name: smaller changes
    set:
      median_change_size_lines: 60
  - name: fewer bugs by decree
    set:
      bug_introducing_commit_ratio: 0.05
  - name: mood
    set:
      team_mood: 3
  - name: impossible coverage
    set:
      line_coverage_ratio: 1.4
"""
GOOD_DRAFT = """Here you go:
```yaml
actions:
  - name: pair new people with seniors
    set:
      newcomer_commit_ratio: "-5"
  - name: write more tests
    set:
      test_churn_ratio: "+20%"
      line_coverage_ratio: 0.85
```"""


@pytest.fixture()
def demo(tmp_path: Path) -> Path:
    path = tmp_path / "demo.csv"
    sample.generate().wide.to_csv(path)
    return path


def _actions(tmp_path: Path, text: str = ACTIONS) -> Path:
    p = tmp_path / "actions.yaml"
    p.write_text(text)
    return p


def _config(tmp_path: Path, url: str, **extra: object) -> Path:
    drafts = {"url": url, "model": "test-model", "api_key_env": "RCA_TEST_LLM_KEY", "timeout_s": 3,
              "max_reply_bytes": 4096, **extra}
    p = tmp_path / "rca.yaml"
    p.write_text(json.dumps({"data_dir": str(tmp_path / "data"), "recommend": {"drafts": drafts}}))
    return p


def _recommend(rca, demo: Path, *args: str):
    return rca("recommend", "--target", "bug_fix_commit_ratio", "--data", str(demo), "--bootstrap", "30", *args)


def test_a_file_of_actions_is_ranked_and_what_cannot_be_ranked_says_why(rca, demo: Path, tmp_path: Path) -> None:
    res = _recommend(rca, demo, "--actions", str(_actions(tmp_path)))
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    names = [a["name"] for a in doc["actions"]]
    assert names[0] == "coverage push" and set(names) == {"coverage push", "smaller changes"}
    top = doc["actions"][0]
    # "+10" on a ratio is ten points: from where coverage is now (the demo's last quarter) to ten points above.
    now, after = top["moves"]["line_coverage_ratio"]["now"], top["moves"]["line_coverage_ratio"]["after"]
    assert after - now == pytest.approx(0.10)
    assert top["interval"][0] > 0 and top["source"] == "file"
    assert doc["answer"].startswith('Best of 2 candidate actions: "coverage push" (line coverage ratio ')
    rejected = doc["rejected"]
    assert "not something a team can change (actionable: false" in rejected["fewer bugs by decree"]
    assert "'team_mood' is not a node of graph" in rejected["mood"]
    assert "a ratio, between 0 and 1, not 1.4" in rejected["impossible coverage"]
    html = _recommend(rca, demo, "--actions", str(_actions(tmp_path)), "--format", "html", "--out",
                      str(tmp_path / "a.html"))
    assert html.code == 0
    page = (tmp_path / "a.html").read_text()
    assert 'class="edge hot" data-from="line_coverage_ratio"' in page and "coverage push" in page


@pytest.mark.parametrize(("text", "message"), [
    ("actions: [", "the actions are not valid YAML"),
    ("actions: {a: 1}", "must be a list under 'actions:'"),
    ("actions:\n  - name: x\n    set: {line_coverage_ratio: __import__('os')}\n", "must be a number, or a move"),
    ("actions:\n  - name: x\n    set: {a: 1}\n    run: rm -rf /\n", "with 'name' and 'set'"),
    ("a: &a [1]\nb: &b [*a, *a]\nactions: *b\n", "the actions are not valid YAML"),
])
def test_a_bad_actions_file_is_one_line(rca, demo: Path, tmp_path: Path, text: str, message: str) -> None:
    res = _recommend(rca, demo, "--actions", str(_actions(tmp_path, text)))
    assert res.code == 2 and message in res.err and res.err.count("\n") == 1, res.err


def test_drafts_from_an_openai_compatible_server_are_ranked_with_the_files(rca, demo: Path, tmp_path: Path,
                                                                          monkeypatch) -> None:
    monkeypatch.setenv("RCA_TEST_LLM_KEY", KEY)
    with FakeModel([Reply(GOOD_DRAFT)]) as model:
        res = _recommend(rca, demo, "--actions", str(_actions(tmp_path)), "--ask-model", "--config",
                         str(_config(tmp_path, model.url)))
    assert res.code == 0, res.err
    assert model.problems == []
    (req,) = model.requests
    assert req["authorization"] == f"Bearer {KEY}" and req["body"]["model"] == "test-model"
    prompt = " ".join(m["content"] for m in req["body"]["messages"])
    assert "line_coverage_ratio" in prompt and "commits_count" not in prompt  # only nodes a team can change
    doc = json.loads(res.out)
    sources = {a["name"]: a["source"] for a in doc["actions"]}
    assert sources["pair new people with seniors"] == "model" and sources["coverage push"] == "file"
    assert sources["write more tests"] == "model"
    assert any("drafted by a language model" in c for c in doc["caveats"])
    assert KEY not in res.out + res.err


HOSTILE = [
    (Reply(raw=b"<html>not json</html>"), "not a chat-completions JSON object"),
    (Reply("x" * 10_000), "over 4096 bytes"),
    (Reply(status=500), "answered HTTP 500"),
    (Reply(status=302, headers={"Location": "http://example.invalid/"}), "answered HTTP 302"),
    (Reply(GOOD_DRAFT, trickle_s=0.4), "took longer than its timeout"),
    (Reply("Ignore the schema. import os; os.system('rm -rf /')"), "must be a list under 'actions:'"),
    (Reply("actions:\n  - name: evil\n    set: {line_coverage_ratio: !!python/object/apply:os.system [id]}\n"),
     "the actions are not valid YAML"),
    (Reply("actions:\n  - name: fake node\n    set: {deploy_on_fridays: 1}\n"), "no action could be ranked"),
]


@pytest.mark.parametrize(("reply", "said"), HOSTILE)
def test_hostile_drafts_are_refused_in_our_words_and_the_files_actions_still_count(
        rca, demo: Path, tmp_path: Path, monkeypatch, reply: Reply, said: str) -> None:
    monkeypatch.setenv("RCA_TEST_LLM_KEY", KEY)
    with FakeModel([reply]) as model:
        config = str(_config(tmp_path, model.url, timeout_s=1.5))
        alone = _recommend(rca, demo, "--ask-model", "--config", config)
    # Without a file, nothing can be ranked: one line saying why, nothing of the reply echoed raw.
    assert alone.code == 2 and alone.err.count("\n") == 1, alone.err
    assert said in alone.err or said == "no action could be ranked"
    assert "rm -rf" not in alone.err and "<html>" not in alone.err and "xxxxxxxx" not in alone.err
    assert KEY not in alone.out + alone.err
    with FakeModel([reply]) as model:
        both = _recommend(rca, demo, "--actions", str(_actions(tmp_path)), "--ask-model", "--config",
                          str(_config(tmp_path, model.url, timeout_s=1.5)))
    assert both.code == 0, both.err
    doc = json.loads(both.out)
    assert {a["source"] for a in doc["actions"]} == {"file"}
    assert said in " ".join(f"{k}: {v}" for k, v in doc["rejected"].items()) or said == "no action could be ranked"


def test_the_model_may_not_draft_more_than_its_bound(rca, demo: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RCA_TEST_LLM_KEY", KEY)
    many = "actions:\n" + "".join(f"  - name: step {i}\n    set: {{test_churn_ratio: \"+{i}%\"}}\n" for i in range(1, 7))
    with FakeModel([Reply(many)]) as model:
        res = _recommend(rca, demo, "--ask-model", "--config", str(_config(tmp_path, model.url, max_actions=3)))
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert len(doc["actions"]) == 3 and "over the limit of 3 drafted actions" in doc["rejected"]["step 4"]


def test_no_configured_model_is_one_line(rca, demo: Path) -> None:
    res = _recommend(rca, demo, "--ask-model")
    assert res.code == 2 and "no drafting model is configured: set recommend.drafts.url" in res.err
