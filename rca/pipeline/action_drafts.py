"""Candidate actions drafted by a language model behind an OpenAI-compatible chat-completions endpoint.

The endpoint is named in the configuration (``recommend.drafts``: a local Ollama or vLLM server);
the model is asked to propose actions in the actions schema (:mod:`rca.engine.actions`), given the
target, the nodes a team can change and where they stand now. Its reply is untrusted input:

- the request and the reply are bounded in time (``timeout_s`` for the whole exchange) and the
  reply in size (``max_reply_bytes``, read as it streams and cut off past the bound);
- only ``choices[0].message.content`` of a JSON reply is read, as text; it is parsed by the
  actions schema and nothing else (no code is run, no tool called, no link followed, no redirect);
- every drafted action is checked like a user's (unknown nodes, nodes that cannot move the target
  or are not actionable, values out of range are rejected) and at most ``max_actions`` are kept;
- what the server said is never echoed raw: a failure is one line in our words (HTTP status, "not
  JSON", "not the schema"); the API key comes from the environment and is never logged or shown.
"""

from __future__ import annotations

import json
import os
import re
import time

import httpx

from rca.config import DraftSettings
from rca.engine.actions import Action, parse_actions
from rca.engine.errors import EngineInputError
from rca.pipeline.errors import BadInput

_FENCE = re.compile(r"```[a-zA-Z]*[ \t]*\n(.*?)\n[ \t]*```", re.S)  # the first fenced block, if the text has one


def prompt(target: str, target_title: str, levers: dict[str, str], higher_is_worse: bool, max_actions: int
           ) -> list[dict[str, str]]:
    """The chat messages: the schema, the target and the nodes that may be set (with their current values)."""
    nodes = "\n".join(f"- {name}: {now}" for name, now in levers.items())
    system = ("You propose concrete actions a software team could take. Reply with YAML only, nothing else, in "
              "exactly this form:\n"
              "actions:\n  - name: a short name for the action\n    set:\n      NODE: NUMBER   # or \"+N\", \"-N\", "
              "\"+N%\", \"-N%\" to move it from where it is now\n"
              f"Use only the NODE names listed by the user, at most {max_actions} actions, each setting 1 to 3 nodes.")
    user = (f"Goal: {'lower' if higher_is_worse else 'raise'} {target_title} ({target}).\n"
            f"Nodes a team can change, with where they are now:\n{nodes}")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _read_bounded(response: httpx.Response, limit: int, deadline: float) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > limit:
            raise BadInput(f"the drafting model's reply is over {limit} bytes; it was cut off and not used")
        if time.monotonic() > deadline:
            raise BadInput("the drafting model took longer than its timeout; its reply was not used")
    return bytes(body)


def ask(settings: DraftSettings, messages: list[dict[str, str]]) -> str:
    """The model's reply text, bounded in size and time; raises :class:`BadInput` with one line of our own."""
    if not settings.url:
        raise BadInput("no drafting model is configured: set recommend.drafts.url (and model) in rca.yaml")
    headers = {"Content-Type": "application/json"}
    if settings.api_key_env:
        key = os.environ.get(settings.api_key_env, "")
        if not key:
            raise BadInput(f"recommend.drafts.api_key_env names {settings.api_key_env}, which is not set")
        headers["Authorization"] = f"Bearer {key}"
    body = {"model": settings.model, "messages": messages, "temperature": 0, "max_tokens": 1500, "stream": False}
    deadline = time.monotonic() + settings.timeout_s
    timeout = httpx.Timeout(settings.timeout_s, connect=min(10.0, settings.timeout_s))
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client, \
                client.stream("POST", f"{settings.url}/chat/completions", json=body, headers=headers) as response:
            if response.status_code != 200:
                raise BadInput(f"the drafting model's server answered HTTP {response.status_code}")
            raw = _read_bounded(response, settings.max_reply_bytes, deadline)
    except httpx.TimeoutException:
        raise BadInput("the drafting model took longer than its timeout; its reply was not used") from None
    except httpx.HTTPError as exc:
        raise BadInput(f"cannot reach the drafting model at {settings.url} ({type(exc).__name__})") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
        content = doc["choices"][0]["message"]["content"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, IndexError, TypeError):
        raise BadInput("the drafting model's reply is not a chat-completions JSON object") from None
    if not isinstance(content, str):
        raise BadInput("the drafting model's reply holds no text")
    return content


def drafted(settings: DraftSettings, messages: list[dict[str, str]]) -> tuple[list[Action], dict[str, str]]:
    """The model's draft as actions (at most ``max_actions``), and what was rejected and why.

    A reply that cannot be used at all is one rejection (``"model draft"``), not an error: the
    actions from a file, if any, are still ranked.
    """
    try:
        text = ask(settings, messages)
        fenced = _FENCE.search(text)
        actions = parse_actions(fenced.group(1) if fenced else text, "model")
    except (BadInput, EngineInputError) as exc:
        return [], {"model draft": str(exc)}
    rejected = {a.name: f"over the limit of {settings.max_actions} drafted actions" for a in actions[settings.max_actions:]}
    return actions[: settings.max_actions], rejected
