"""A hostile or broken endpoint is a counted bad response, never a traceback (issue 13, part 5).

Every test talks to the local server through the real ``openai`` package, with both
transports: ``http`` (pre-encoded bodies through the SDK's HTTP client) and ``sdk``
(the SDK builds each request).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.selfinstruct.cache import RequestCache
from dataforge.selfinstruct.client import ClientConfig, LLMClient
from dataforge.selfinstruct.response import BadResponse, parse_completion

from .conftest import Reply, completion_body

PARAMS = {"max_tokens": 100, "temperature": 0.0}
GOOD = Reply(text="the real answer")


def _body(**changes):
    obj = completion_body("x")
    obj.update(changes)
    return json.dumps(obj).encode()


def _choice(choice):
    return _body(choices=[choice])


#: case -> (the server's HTTP 200 answer, the kind it is counted as)
HOSTILE = {
    "invalid_json": (Reply(raw=b'{"id": "x", "choices": [{"message": '), "invalid_json"),
    "html": (Reply(raw=b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", content_type="text/html"),
             "html"),
    "choices_empty": (Reply(raw=_body(choices=[])), "no_choices"),
    "choices_null": (Reply(raw=_body(choices=None)), "no_choices"),
    "choice_is_a_string": (Reply(raw=_body(choices=["hello"])), "bad_choice"),
    "message_is_a_string": (Reply(raw=_choice({"index": 0, "message": "hi", "finish_reason": "stop"})), "bad_choice"),
    "content_is_a_list": (Reply(raw=_choice({"index": 0, "message": {"role": "assistant", "content": [1]},
                                             "finish_reason": "stop"})), "bad_choice"),
    "usage_nulls": (Reply(raw=_body(usage={"prompt_tokens": None, "completion_tokens": None, "total_tokens": None})),
                    "bad_usage"),
    "body_is_a_string": (Reply(raw=b'"just a string"'), "not_an_object"),
    "error_with_200": (Reply(raw=b'{"error": {"message": "upstream failed", "type": "server_error"}}'), "error_body"),
    "lone_surrogate": (Reply(raw=_body().replace(b'"content": "x"', b'"content": "a\\ud800b"')), "invalid_unicode"),
}


def run_client(llm, tmp_path, coro_fn, *, transport="http", **cfg):
    config = ClientConfig(model="fake-model", base_url=llm.url, concurrency=cfg.pop("concurrency", 2),
                          backoff_base=0.0, timeout=cfg.pop("timeout", 5.0), transport=transport, **cfg)

    async def go():
        cache = RequestCache(tmp_path / "cache.sqlite")
        client = LLMClient(config, cache, api_key="sk-test-0123456789")
        try:
            return await coro_fn(client), client
        finally:
            await client.close()
            cache.close()

    return asyncio.run(go())


@pytest.mark.parametrize("transport", ["http", "sdk"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_each_bad_body_is_counted_by_kind_retried_and_never_cached(llm_server, tmp_path, case, transport):
    reply, kind = HOSTILE[case]
    llm_server.script.extend([reply, GOOD])
    done, client = run_client(llm_server, tmp_path, lambda c: c.complete("p", PARAMS), transport=transport)
    assert done.text == "the real answer"
    assert client.usage.bad_responses == {kind: 1} and client.usage.retries == 1
    rows = sqlite3.connect(tmp_path / "cache.sqlite").execute("SELECT body FROM responses").fetchall()
    assert [json.loads(b)["text"] for (b,) in rows] == ["the real answer"]


def test_usage_missing_entirely_is_accepted_and_charged_at_an_upper_bound(llm_server, tmp_path):
    obj = completion_body("four words of text")
    del obj["usage"]
    llm_server.script.append(Reply(raw=json.dumps(obj).encode()))
    done, client = run_client(llm_server, tmp_path, lambda c: c.complete("prompt", PARAMS))
    assert done.text == "four words of text" and client.usage.bad_responses == {}
    assert client.usage.usage_estimated == 1
    assert done.completion_tokens == len("four words of text") + 1  # at most one token per byte (+ EOS)
    assert done.prompt_tokens >= len("prompt")


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_a_trickling_server_is_cut_off_at_the_wall_clock_deadline(llm_server, tmp_path, transport):
    # a valid answer, one byte every 0.3 s (~40 s in all): each read is quick, so only a
    # deadline on the whole attempt stops it; the retry gets the good answer
    llm_server.script.extend([Reply(text="slow but valid", trickle=0.3), GOOD])
    done, client = run_client(llm_server, tmp_path, lambda c: c.complete("p", PARAMS), timeout=1.0,
                              transport=transport)
    assert done.text == "the real answer" and client.usage.retries == 1


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_an_oversized_answer_is_refused_before_the_cache(llm_server, tmp_path, chunked, transport):
    big = json.dumps(completion_body("word " * 3000)).encode()  # ~15 kB, valid
    llm_server.script.extend([Reply(raw=big, chunked=chunked), GOOD])
    done, client = run_client(llm_server, tmp_path, lambda c: c.complete("p", PARAMS), max_response_bytes=4096,
                              transport=transport)
    assert done.text == "the real answer" and client.usage.bad_responses == {"too_large": 1}


def test_parse_completion_rules():
    ok = parse_completion(_body(), mode="chat")
    assert ok["text"] == "x" and ok["usage_reported"]
    assert parse_completion(_choice({"index": 0, "message": {"role": "assistant", "content": None},
                                     "finish_reason": "stop"}), mode="chat")["text"] == ""  # a refusal: no content
    completions = json.dumps(completion_body("t", chat=False)).encode()
    assert parse_completion(completions, mode="completions")["text"] == "t"
    with pytest.raises(BadResponse) as exc:
        parse_completion(completions, mode="chat")  # a completions body where a chat one belongs
    assert exc.value.kind == "bad_choice"
    for usage in ({"prompt_tokens": -1, "completion_tokens": 1}, {"prompt_tokens": True, "completion_tokens": 1},
                  {"prompt_tokens": 1.5, "completion_tokens": 1}, "many"):
        with pytest.raises(BadResponse, match="bad_usage"):
            parse_completion(_body(usage=usage), mode="chat")
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(BadResponse, match="invalid_json"):
        parse_completion(deep, mode="chat")


def run_cli(llm, out, *extra, n=3, env=None):
    args = ["self-instruct", "--seed-tasks", "data/instructions/seed_tasks.jsonl", "--num-instructions", str(n),
            "--model", "fake-model", "--base-url", llm.url, "-o", str(out), "--backoff", "0", "--timeout", "5",
            "--concurrency", "1", "--request-batch-size", "1", *extra]
    return CliRunner().invoke(main, args, env=env or {"OPENAI_API_KEY": "sk-test-0123456789"})


def test_persistent_bad_responses_stop_the_run_with_exit_1_and_the_cause(llm_server, tmp_path, data_dir, monkeypatch):
    monkeypatch.chdir(data_dir.parent)
    llm_server.script.extend([HOSTILE["html"][0]] * 50)
    result = run_cli(llm_server, tmp_path / "h.jsonl", "--max-attempts", "2")
    assert result.exit_code == 1, result.output
    assert "requests in a row failed" in result.output and "html" in result.output and "/v1" in result.output
    assert "Traceback" not in result.output
    assert len(llm_server.requests) == 5 * 2  # max_consecutive_failures x max_attempts


def test_bad_responses_are_counted_in_the_run_summary(llm_server, tmp_path, data_dir, monkeypatch):
    monkeypatch.chdir(data_dir.parent)
    llm_server.script.extend([HOSTILE["html"][0], HOSTILE["choices_empty"][0], HOSTILE["usage_nulls"][0]])
    out = tmp_path / "s.jsonl"
    result = run_cli(llm_server, out)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "s.jsonl.run.json").read_text())
    assert summary["usage"]["bad_responses"] == {"bad_usage": 1, "html": 1, "no_choices": 1}
    assert "bad responses: bad_usage 1, html 1, no_choices 1" in result.output


def test_outputs_differing_only_by_suffix_share_no_side_file(llm_server, tmp_path, data_dir, monkeypatch):
    monkeypatch.chdir(data_dir.parent)
    assert run_cli(llm_server, tmp_path / "x.jsonl", n=3).exit_code == 0
    assert run_cli(llm_server, tmp_path / "x.json", n=5).exit_code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    for out in ("x.jsonl", "x.json"):
        for side in (".run.json", ".provenance.jsonl", ".cache.sqlite"):
            assert out + side in names
    assert json.loads((tmp_path / "x.jsonl.run.json").read_text())["target"] == 3
    assert json.loads((tmp_path / "x.json.run.json").read_text())["target"] == 5
    assert len((tmp_path / "x.jsonl.provenance.jsonl").read_text().splitlines()) == 3
    assert len(json.loads((tmp_path / "x.json").read_text())) == 5


def test_an_echoed_api_key_is_redacted_everywhere(llm_server, tmp_path, data_dir, monkeypatch):
    from .conftest import fake_model

    key = "sk-live-ECHOED-0123456789abcdef"
    monkeypatch.chdir(data_dir.parent)
    # the model writes the key into its instructions; the server puts it in an error message too
    llm_server.model_text = lambda prompt, seen: fake_model(prompt, seen).replace("Describe the", f"Describe {key} the")
    llm_server.script.append(Reply(status=500, error=f"invalid key {key}"))
    out = tmp_path / "k.jsonl"
    result = CliRunner().invoke(main, ["-vv", "self-instruct", "--seed-tasks", "data/instructions/seed_tasks.jsonl",
                                       "--num-instructions", "3", "--model", "fake-model", "--base-url", llm_server.url,
                                       "-o", str(out), "--backoff", "0", "--concurrency", "1"],
                                env={"OPENAI_API_KEY": key})
    assert result.exit_code == 0, result.output
    assert key not in result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert all("[REDACTED]" in r["instruction"] for r in records)
    for path in tmp_path.iterdir():
        assert key.encode() not in path.read_bytes(), path
