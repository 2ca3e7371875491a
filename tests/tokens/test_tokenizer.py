"""Token counting: shipped encodings, tiktoken's model mapping, chat overhead, estimates."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tokens.tokenizer import ENCODINGS_DIR, choose_tokenizer, count_messages, count_text


def test_shipped_encodings_match_tiktokens_expected_hashes():
    sums = dict(line.split()[::-1] for line in (ENCODINGS_DIR / "SHA256SUMS").read_text().splitlines())
    names = dict(line.split()[::-1] for line in (ENCODINGS_DIR / "NAMES").read_text().splitlines())
    from tiktoken_ext import openai_public

    source = Path(openai_public.__file__).read_text()
    for name in ("cl100k_base", "o200k_base"):
        digest = hashlib.sha256((ENCODINGS_DIR / names[f"{name}.tiktoken"]).read_bytes()).hexdigest()
        assert digest == sums[f"{name}.tiktoken"]
        assert f'expected_hash="{digest}"' in source


def test_counting_never_reaches_for_the_network():
    script = (
        "import tiktoken.load as l\n"
        "def boom(*a, **k):\n    raise SystemExit('network used')\n"
        "l.read_file = boom\n"
        "from tokens.tokenizer import count_text\n"
        "print(count_text('Hello, world!', 'gpt-4o').tokens, count_text('Hello, world!', 'gpt-4').tokens)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4", "4"]


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("o3", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
    ],
)
def test_encoding_chosen_as_tiktoken_does(model, encoding):
    choice = choose_tokenizer(model)
    assert (choice.encoding, choice.exact) == (encoding, True)


def test_exact_counts_for_known_text():
    assert count_text("Hello, world!", "gpt-4o").tokens == 4
    assert count_text("tiktoken is great!", "gpt-4").tokens == 6
    assert count_text("", "gpt-4o").tokens == 0


def test_chat_messages_use_openais_published_overhead():
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "name": "bob", "content": "Hi"},
    ]
    # 3 reply primer + (3 + system 1 + content 6) + (3 + user 1 + bob 1 + name 1 + Hi 1)
    assert count_messages(messages, "gpt-4o").tokens == 20


def test_content_parts_are_counted_by_their_text():
    parts = [{"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": " there"}]}]
    plain = [{"role": "user", "content": "Hi there"}]
    assert count_messages(parts, "gpt-4o").tokens == count_messages(plain, "gpt-4o").tokens


def test_models_without_a_public_tokenizer_get_a_flagged_estimate():
    claude = count_text("Hello, world!", "claude-3-opus", "anthropic")
    assert claude.exact is False
    assert claude.encoding == "cl100k_base"
    # cl100k gives 4; the Anthropic factor 1.10 rounds up to 5
    assert claude.tokens == 5
    gemini = count_text("Hello, world!", "gemini-2.5-pro")
    assert (gemini.tokens, gemini.exact) == (4, False)


def test_count_api(api):
    text = api.post("/api/v1/tokens/count", {"model": "gpt-4o", "text": "Hello, world!"}, format="json")
    assert text.json() == {"model": "gpt-4o", "tokens": 4, "encoding": "o200k_base", "exact": True}
    chat = api.post("/api/v1/tokens/count", {"model": "gpt-4o", "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "name": "bob", "content": "Hi"},
    ]}, format="json")
    assert chat.json()["tokens"] == 20
    claude = api.post("/api/v1/tokens/count", {"model": "claude-3-opus", "text": "Hello, world!"}, format="json")
    assert claude.json() == {"model": "claude-3-opus", "tokens": 5, "encoding": "cl100k_base", "exact": False}


def test_count_api_bad_input(api):
    neither = api.post("/api/v1/tokens/count", {"model": "gpt-4o"}, format="json")
    assert neither.status_code == 400
    assert neither.json()["error"]["fields"] == {"text": ["Provide exactly one of text or messages."]}
    no_model = api.post("/api/v1/tokens/count", {"text": "x"}, format="json")
    assert no_model.status_code == 400
    assert list(no_model.json()["error"]["fields"]) == ["model"]
    bad_messages = api.post("/api/v1/tokens/count", {"model": "gpt-4o", "messages": "hi"}, format="json")
    assert bad_messages.status_code == 400
    assert list(bad_messages.json()["error"]["fields"]) == ["messages"]
