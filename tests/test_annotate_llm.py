"""LLMAnnotator against a real HTTP server on 127.0.0.1 (tests/chat_server.py)."""
import socket
import time

import pytest

from chat_server import ChatServer
from paperlib.annotate import CANNOT_TELL, AnnotationParseError, prompts
from paperlib.annotate.llm import (LLMAnnotator, LLMRequestError, chat_url, concept_temperature,
                                   parse_concept, parse_level, parse_tasks)
from paperlib.core.errors import ParameterError

WORDS = ["cat", "dog", "horse", "cow", "sheep"]


@pytest.fixture(autouse=True)
def local_only(monkeypatch):
    """Fail any connection that is not to 127.0.0.1."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] == "127.0.0.1", f"test tried to reach {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    for var in ("PAPERLIB_LLM_BASE_URL", "PAPERLIB_LLM_MODEL", "PAPERLIB_LLM_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def by_question(concept="animals", tasks="daily writing; literary writing", level="Semantic"):
    """Server reply function that answers according to the system prompt."""
    def reply(body):
        system = body["messages"][0]["content"]
        if system == prompts.CONCEPT_SYSTEM:
            return concept
        if system == prompts.TASK_SYSTEM:
            return tasks
        assert system == prompts.LEVEL_SYSTEM
        return level
    return reply


def make(server, tmp_path, **kw):
    kw.setdefault("backoff", 0.01)
    kw.setdefault("max_backoff", 0.02)
    return LLMAnnotator(server.base_url, "test-model", kw.pop("api_key", "sk-test"),
                        cache_dir=tmp_path, **kw)


def test_request_format_and_parsing(tmp_path):
    with ChatServer(by_question()) as server:
        ann = make(server, tmp_path).annotate(WORDS, seed=0)
        assert len(server.requests) == 3
        first = server.requests[0]
        assert first["path"] == "/v1/chat/completions"
        assert first["headers"]["Authorization"] == "Bearer sk-test"
        body = first["body"]
        assert body["model"] == "test-model" and body["seed"] == 0
        assert body["temperature"] == 0.0 and body["top_p"] == 0.9
        msgs = body["messages"]
        assert msgs[0] == {"role": "system", "content": prompts.CONCEPT_SYSTEM}
        roles = [m["role"] for m in msgs[1:]]
        assert roles == ["user", "assistant"] * len(prompts.CONCEPT_EXAMPLES) + ["user"]
        assert "Cannot Tell" in [m["content"] for m in msgs if m["role"] == "assistant"]
        assert msgs[-1]["content"] == "Words: cat, dog, horse, cow, sheep"
        task_body = server.requests[1]["body"]
        assert task_body["messages"][-1]["content"] == "Concept: Words are animals"
        assert task_body["temperature"] == 0.0
    assert ann.concept == "animals" and ann.describable
    assert ann.tasks == frozenset({"writing"}) and ann.level == "semantic"
    assert set(ann.evidence) == {"concept", "task:writing", "level:semantic"}


def test_temperature_schedule_and_seed(tmp_path):
    assert concept_temperature(0) == 0.0 and concept_temperature(3) == 1.0
    with ChatServer(by_question()) as server:
        make(server, tmp_path).annotate(WORDS, seed=2)
        temps = [r["body"]["temperature"] for r in server.requests]
        assert temps == [1.0, 0.0, 0.0]
        assert {r["body"]["seed"] for r in server.requests} == {2}


def test_cache_second_call_sends_nothing(tmp_path):
    with ChatServer(by_question()) as server:
        a = make(server, tmp_path)
        first = a.annotate(WORDS, seed=1)
        assert len(server.requests) == 3
        again = make(server, tmp_path).annotate(WORDS, seed=1)  # fresh object, same cache
        assert len(server.requests) == 3
        assert again == first
        make(server, tmp_path).annotate(WORDS, seed=4)  # another seed is another key
        assert len(server.requests) == 6


def test_cannot_tell_skips_task_and_level(tmp_path):
    with ChatServer(by_question(concept="Cannot Tell.")) as server:
        ann = make(server, tmp_path).annotate(["qz", "blorf", "x"])
        assert len(server.requests) == 1
    assert ann.concept == CANNOT_TELL and not ann.describable
    assert ann.tasks == frozenset() and ann.level is None


def test_retry_500_twice_then_ok(tmp_path):
    with ChatServer(by_question(), statuses=[500, 500]) as server:
        a = make(server, tmp_path)
        text = a.complete(prompts.concept_messages(WORDS), seed=0, temperature=0.0)
        assert text == "animals" and len(server.requests) == 3


def test_always_500_fails_clearly_and_quickly(tmp_path):
    with ChatServer(by_question(), fail_status=503) as server:
        a = make(server, tmp_path, max_retries=3)
        t0 = time.monotonic()
        with pytest.raises(LLMRequestError, match="4 attempts.*HTTP 503"):
            a.annotate(WORDS)
        assert time.monotonic() - t0 < 2.0
        assert len(server.requests) == 4
    assert not list(tmp_path.rglob("*.json"))  # failures are not cached


def test_client_error_is_not_retried(tmp_path):
    with ChatServer(by_question(), fail_status=401) as server:
        with pytest.raises(LLMRequestError, match="HTTP 401"):
            make(server, tmp_path).annotate(WORDS)
        assert len(server.requests) == 1


def test_timeout_is_retried(tmp_path):
    with ChatServer(by_question(), delay_first=0.6) as server:
        a = make(server, tmp_path, timeout=0.2)
        assert a.complete(prompts.concept_messages(WORDS), 0, 0.0) == "animals"
        assert len(server.requests) == 2


def test_garbage_answer_is_a_clear_error(tmp_path):
    with ChatServer(by_question(level="I like turtles")) as server:
        with pytest.raises(AnnotationParseError, match="no level"):
            make(server, tmp_path).annotate(WORDS)


def test_missing_configuration(monkeypatch):
    with pytest.raises(ParameterError, match="PAPERLIB_LLM_BASE_URL"):
        LLMAnnotator(model="m")
    with pytest.raises(ParameterError, match="PAPERLIB_LLM_MODEL"):
        LLMAnnotator(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ParameterError, match="http"):
        LLMAnnotator(base_url="127.0.0.1:9", model="m")
    monkeypatch.setenv("PAPERLIB_LLM_BASE_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("PAPERLIB_LLM_MODEL", "m")
    assert LLMAnnotator(cache=False).url == "http://127.0.0.1:9/v1/chat/completions"


def test_no_auth_header_without_key(tmp_path):
    with ChatServer(by_question()) as server:
        make(server, tmp_path, api_key=None).annotate(WORDS)
        assert "Authorization" not in server.requests[0]["headers"]


def test_annotate_many_shape(tmp_path):
    with ChatServer(by_question()) as server:
        out = make(server, tmp_path).annotate_many([WORDS, ["a", "b", "c"]], seeds=range(2),
                                                   progress=False)
    assert [[a.seed for a in row] for row in out] == [[0, 1], [0, 1]]


@pytest.mark.parametrize("raw,expected", [
    ("Animals.", ("animals", True)), ("Concept: \"colours\"", ("colours", True)),
    ("cannot tell", (CANNOT_TELL, False)), ("I can't tell, sorry", (CANNOT_TELL, False))])
def test_parse_concept(raw, expected):
    concept, ok = parse_concept(raw)
    assert (concept.lower(), ok) == (expected[0].lower(), expected[1])


def test_parse_tasks_and_level():
    assert set(parse_tasks("daily writing; coding; solving math problems")) == {
        "writing", "coding", "math"}
    assert set(parse_tasks("Translation, professional writing.")) == {"translation", "writing"}
    assert parse_tasks("None") == {} and parse_tasks("None of the above.") == {}
    with pytest.raises(AnnotationParseError):
        parse_tasks("bananas")
    with pytest.raises(AnnotationParseError):
        parse_concept("   ")
    assert parse_level("Morphology") == "morphology"
    assert parse_level("The answer is: syntactic") == "syntax"
    assert chat_url("http://h/v1/chat/completions") == "http://h/v1/chat/completions"
