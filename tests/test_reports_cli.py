"""`rca report` end to end: configured investigations from the store, the multi-target report on
disk, chat posts to loopback platforms (one accepted, one rejected, one without its secret), failed
posts recorded without losing the report, and `--dry-run` printing every platform's payload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rca.cli import main
from tests.chat_servers import SECRET, FakePlatform, Reply


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0)


def _store_sample(data_dir: Path) -> None:
    from rca import sample
    from rca.store import Store

    store = Store(f"sqlite:///{(data_dir / 'whydunnit.db').resolve()}")
    try:
        store.write(sample.generate().observations)
    finally:
        store.close()


def test_rca_report_posts_and_records_failures(tmp_path, monkeypatch, capsys) -> None:
    from rca import sample

    data, out = tmp_path / "data", tmp_path / "out"
    _store_sample(data)
    drawn = sample.generate()
    base, now = (f"{a:%Y-%m-%d}..{b:%Y-%m-%d}" for a, b in (drawn.baseline, drawn.current))
    with FakePlatform("slack") as slack, FakePlatform("discord", [Reply(400, body='{"message": "Invalid Form Body"}')]) \
            as discord:
        (tmp_path / "discord.url").write_text(discord.url + "\n")
        monkeypatch.setenv("TEST_SLACK_HOOK", slack.url)
        monkeypatch.delenv("TEST_MISSING_HOOK", raising=False)
        config = tmp_path / "rca.yaml"
        config.write_text(f"""
data_dir: {data}
engine: {{bootstrap: 2, num_samples: 100}}
reports: {{out_dir: {out}, url_base: "https://reports.example.com/rca/"}}
notify:
  attempts: 2
  backoff_s: 0.01
  timeout_s: 3
  channels:
    - {{kind: slack, name: eng-alerts, url_env: TEST_SLACK_HOOK}}
    - {{kind: discord, name: oncall, url_file: {tmp_path / 'discord.url'}}}
    - {{kind: teams, name: leads, url_env: TEST_MISSING_HOOK}}
investigations:
  - {{target: bug_fix_commit_ratio, scope: acme/payments, last: 13 weeks}}
  - {{target: lead_time_seconds, scope: acme/payments, baseline: {base}, current: {now}}}
  - {{target: incidents_count, scope: acme/nowhere, last: 13 weeks}}
""")
        code = _run(["report", "--config", str(config)])
    captured = capsys.readouterr()
    assert code == 1  # some posts failed: the job says so
    html = sorted(out.glob("report-*.html"))
    assert len(html) == 1 and html[0].with_suffix(".md").exists()
    objects = json.loads(html[0].with_suffix(".json").read_text())
    assert [o["target"] for o in objects] == ["bug_fix_commit_ratio", "lead_time_seconds"]
    assert objects[0]["window"]["current"] == [f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in drawn.current]
    # The target without data is reported as not investigated; the others still are.
    assert "Not investigated" in html[0].read_text() and "acme/nowhere" in html[0].read_text()
    assert "not investigated: incidents_count in acme/nowhere" in captured.err
    posted = json.dumps(slack.received[0], ensure_ascii=False).replace("\u200b", "")
    assert "Not investigated* (see the report)" in posted and "incidents_count in acme/nowhere" in posted

    assert slack.problems == [[]] and len(discord.received) == 1  # a 400 is not retried
    link = f"https://reports.example.com/rca/{html[0].name}"
    assert link in json.dumps(slack.received[0])
    records = [json.loads(line) for line in (data / "notify-failures.jsonl").read_text().splitlines()]
    assert [(r["channel"], r["status"]) for r in records] == [("oncall", 400), ("leads", None)]
    assert "TEST_MISSING_HOOK is not set" in records[1]["error"]
    assert records[0]["payload"]["embeds"] and records[0]["report"].endswith(html[0].name)
    everything = captured.out + captured.err + (data / "notify-failures.jsonl").read_text()
    assert SECRET not in everything and "SECRET" not in everything
    assert "posted to eng-alerts (slack): ok" in captured.err
    assert "2 of 3 chat post(s) failed" in captured.err


def test_rca_report_dry_run_on_the_demo_prints_every_payload(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("RCA_CONFIG", raising=False)
    monkeypatch.setenv("RCA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RCA_ENGINE__BOOTSTRAP", "2")
    monkeypatch.setenv("RCA_ENGINE__NUM_SAMPLES", "100")
    monkeypatch.chdir(tmp_path)  # no ./rca.yaml here: nothing is configured
    code = _run(["report", "--dry-run", "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 0
    payloads = json.loads(captured.out)
    assert sorted(payloads) == sorted(["slack", "teams", "discord", "mattermost", "googlechat", "generic"])
    assert "Bug fix commit ratio" in json.dumps(payloads["slack"])
    assert len(payloads["generic"]["investigations"]) == 2
    assert list((tmp_path / "out").glob("report-*.html"))
    assert not (tmp_path / "data" / "notify-failures.jsonl").exists()


def test_channel_config_refuses_inline_urls(tmp_path) -> None:
    from rca.config import ConfigError, load_settings

    bad = tmp_path / "rca.yaml"
    bad.write_text("notify:\n  channels:\n    - {kind: slack, url: 'https://hooks.example/x'}\n")
    with pytest.raises(ConfigError, match="url"):
        load_settings(bad)
    bad.write_text("notify:\n  channels:\n    - {kind: slack}\n")
    with pytest.raises(ConfigError, match="exactly one of url_env or url_file"):
        load_settings(bad)
    bad.write_text("notify:\n  channels:\n    - {kind: slack, url_env: 'https://hooks.example/T0/B0/sekrit'}\n")
    with pytest.raises(ConfigError, match="NAME of an environment variable") as exc:
        load_settings(bad)
    assert "sekrit" not in str(exc.value)


def test_the_example_configuration_is_valid() -> None:
    from rca.config import load_settings

    s = load_settings(Path(__file__).resolve().parent.parent / "rca.example.yaml")
    assert s.notify.channels == [] and s.investigations == [] and s.reports.url_base == ""


def test_without_configured_targets_nothing_is_posted_anywhere(tmp_path, monkeypatch, capsys) -> None:
    with FakePlatform("slack") as slack:
        monkeypatch.setenv("TEST_SLACK_HOOK", slack.url)
        config = tmp_path / "rca.yaml"
        config.write_text(f"data_dir: {tmp_path / 'data'}\nnotify:\n  channels:\n"
                          "    - {kind: slack, name: eng, url_env: TEST_SLACK_HOOK}\n")
        code = _run(["report", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("rca: error: nothing to report") and err.count("\n") == 1
    assert slack.received == []  # the demo's figures never reach a real channel


def test_one_broken_channel_never_stops_the_next_and_every_failure_is_recorded(tmp_path, monkeypatch, capsys) -> None:
    data = tmp_path / "data"
    _store_sample(data)
    monkeypatch.setenv("TEST_BROKEN_HOOK", "http://[x/hooks/abc")
    with FakePlatform("slack", [Reply(429, {"Retry-After": "nan"})]) as nan_server, FakePlatform("discord") as last:
        monkeypatch.setenv("TEST_NAN_HOOK", nan_server.url)
        monkeypatch.setenv("TEST_LAST_HOOK", last.url)
        config = tmp_path / "rca.yaml"
        config.write_text(f"""
data_dir: {data}
engine: {{bootstrap: 2, num_samples: 100}}
reports: {{out_dir: {tmp_path / 'out'}}}
notify:
  attempts: 2
  backoff_s: 0.01
  channels:
    - {{kind: teams, name: broken, url_env: TEST_BROKEN_HOOK}}
    - {{kind: slack, name: nan, url_env: TEST_NAN_HOOK}}
    - {{kind: discord, name: last, url_env: TEST_LAST_HOOK}}
investigations:
  - {{target: bug_fix_commit_ratio, scope: acme/payments, last: 13 weeks}}
""")
        code = _run(["report", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 1
    assert len(nan_server.received) == 2 and len(last.received) == 1  # nan was no reason to stop; last got its post
    records = [json.loads(line) for line in (data / "notify-failures.jsonl").read_text().splitlines()]
    assert [r["channel"] for r in records] == ["broken"]
    assert "malformed" in records[0]["error"] and "abc" not in json.dumps(records)
    assert "posted to nan (slack): ok" in err and "posted to last (discord): ok" in err


def test_a_webhook_url_pasted_as_url_file_is_refused_without_echoing_it(tmp_path) -> None:
    from rca.config import ConfigError, load_settings

    bad = tmp_path / "rca.yaml"
    bad.write_text("notify:\n  channels:\n    - {kind: slack, url_file: 'https://hooks.example/T0/B0/sekrit'}\n")
    with pytest.raises(ConfigError, match="PATH of a file") as exc:
        load_settings(bad)
    assert "sekrit" not in str(exc.value)


def test_a_headline_that_is_a_sentence_ends_with_one_period() -> None:
    from reports import chat
    from tests.report_results import make_result

    calm = [make_result(f"m{i}_ratio", detected=False) for i in range(3)]
    for kind in chat.KINDS:
        text = json.dumps(chat.payload(kind, calm, ""), ensure_ascii=False)
        assert "checked." in text and ".." not in text, kind
