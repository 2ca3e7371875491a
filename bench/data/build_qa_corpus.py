# ruff: noqa: E501  (questions and templates read better unwrapped)
"""Builds bench/data/qa_corpus.jsonl: question-aware compression prompts with their answers marked.

The material is not ours, so the corpus is not tuned to the compressor:

- RAG and chat passages are the Python Language Reference as Python 3.11
  ships it (``pydoc_data.topics``: 79 topics, 465 k characters, hard-wrapped
  at 70 columns as docs extraction leaves it). A RAG prompt holds the chunk
  that answers plus four retrieved by a plain TF-IDF retriever (no stemming,
  not the compressor's BM25): two neighbours and two from other topics.
- Agent observations are real command outputs captured on the reference
  machine (``tool_outputs.json``: pip, apt, lscpu, free, redis-cli, psql, git).
- The prompt layouts are the published defaults of LangChain (stuff QA,
  rlm/rag-prompt, ReAct, ConversationChain), LlamaIndex (text_qa_template),
  Haystack, the OpenAI cookbook and Anthropic's long-context XML advice.

What was written here: the questions (as users type them) and which
sentence answers each (``answers``: the sentence, whitespace-normalized).
``python bench/data/build_qa_corpus.py`` (on Python 3.11) rebuilds it.
"""

from __future__ import annotations

import json
import math
import pydoc_data.topics
import random
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "qa_corpus.jsonl"
TOPICS = pydoc_data.topics.topics
TOOLS = json.loads((HERE / "tool_outputs.json").read_text())

# (topic, a distinctive piece of the answering sentence, the question as a user would type it)
RAG = [
    ("try", "no exception handler is executed", "If nothing goes wrong inside the try block, does any except handler run?"),
    ("try", "clause, if present, must be last", "where does a bare except clause have to go in a try statement?"),
    ("try", "it is cleared at the end of the", "Why can't I use the exception variable e after the except block ends?"),
    ("with", "is assigned to it", "In `with open(f) as fh`, what value ends up in fh?"),
    ("with", "Support for using grouping parentheses", "Since which Python version can I wrap several context managers in parentheses over multiple lines?"),
    ("for", "Names in the target list are not deleted", "Does the loop variable still exist after a for loop finishes?"),
    ("for", "When the iterator is exhausted", "When does the else block of a for loop run?"),
    ("break", "the loop control target keeps its current value", "what value does the loop variable have after I break out of a for loop?"),
    ("continue", "before really starting the next loop cycle", "If I call continue inside a try that has a finally, does the finally still run?"),
    ("return", "the generator is done and will cause", "What happens when a generator function hits a return statement?"),
    ("return", "A non-empty \"return\" statement is a syntax error", "Can an async generator return a value?"),
    ("raise", "If there isn’t currently an active exception", "what happens if I use a bare raise when no exception is being handled?"),
    ("raise", "If the second expression is an exception instance", "With `raise X from Y`, where does Y get stored on the new exception?"),
    ("import", "do not begin with an underscore character", "If a module has no __all__, which names does `from module import *` bring in?"),
    ("global", "must not be used in the same code block textually preceding", "Can I use a variable before declaring it global in the same function?"),
    ("nonlocal", "nearest enclosing scope excluding globals", "What does the nonlocal keyword actually do?"),
    ("lambda", "cannot contain statements or annotations", "can I put an assignment or a type annotation inside a lambda?"),
    ("del", "If the name is unbound", "What error do I get if I del a name that was never assigned?"),
    ("pass", "is a null operation", "what does pass do when it runs?"),
    ("assert", "emits no code for an assert statement", "Are asserts still checked when I run python with -O?"),
    ("typesmapping", "may not be used as keys", "can I use a list as a dictionary key?"),
    ("typesmapping", "can be used interchangeably to index the same dictionary entry", "Why do d[1] and d[True] give me the same entry?"),
    ("typesmapping", "the view reflects these changes", "if I keep a reference to dict.keys() and then add a key, does it show up?"),
    ("typesseq-mutable", "it does not return the reversed sequence", "why does list.reverse() return None?"),
    ("typesseq-mutable", "Zero and negative values of *n* clear the sequence", "What happens to a list if I do s *= 0?"),
    ("typesseq-mutable", "so that by default the last item is removed and returned", "which item does pop() remove if I don't pass an index?"),
    ("integers", "There is no limit for the length of integer literals", "Is there a maximum size for integer literals in Python?"),
    ("integers", "leading zeros in a non-zero decimal number are not allowed", "why is 0123 a syntax error?"),
    ("floating", "always interpreted using radix 10", "is 077e010 read as an octal number?"),
    ("comparisons", "all comparison operations in Python have the same priority", "do == and < have different precedence in python?"),
    ("comparisons", "is evaluated only once", "in x < y <= z, how many times is y evaluated?"),
    ("booleans", "but rather return the last evaluated argument", "Does `a or b` always give back True or False?"),
    ("booleans", "it returns a boolean value regardless of the type of its argument", "what type does `not 'foo'` return?"),
    ("execmodel", "it is a local variable of that block", "When is a name considered a local variable?"),
    ("dict", "the final dictionary’s value for that key will be the last one given", "If I write the same key twice in a dict literal, which value wins?"),
    ("dict", "the key is evaluated before the value", "in a dict comprehension, is the key or the value computed first?"),
    ("formatstrings", "it can be escaped by doubling", "How do I print a literal curly brace with str.format?"),
    ("exceptions", "Exception messages are not part of the Python API", "Is it safe to parse the text of exception messages in my code?"),
    ("exceptions", "except when the exception is \"SystemExit\"", "Which exception doesn't print a traceback when nobody handles it?"),
    ("slicings", "the key is a tuple containing the conversion of the slice items", "what key does __getitem__ receive for a[1:2, 3]?"),
]

# (earlier topics the assistant explained, the topic and piece that answers, the follow-up question)
CHAT = [
    (["for", "while", "break"], ("break", "the loop control target keeps its current value"), "going back to break: what value does the loop variable end up with?"),
    (["try", "raise", "exceptions"], ("raise", "If there isn’t currently an active exception"), "and a bare raise outside any except block, what happens then?"),
    (["with", "try", "return"], ("with", "is assigned to it"), "ok, so with the `as` part of a with statement, what exactly gets assigned?"),
    (["typesmapping", "dict", "lists"], ("typesmapping", "may not be used as keys"), "wait, so can lists be dict keys or not?"),
    (["integers", "floating", "comparisons"], ("integers", "There is no limit for the length of integer literals"), "How big can an integer literal get?"),
    (["global", "nonlocal", "execmodel"], ("nonlocal", "nearest enclosing scope excluding globals"), "remind me what nonlocal refers to exactly?"),
    (["lambda", "pass", "del"], ("lambda", "cannot contain statements or annotations"), "So what can't go inside a lambda?"),
    (["booleans", "truth", "comparisons"], ("booleans", "but rather return the last evaluated argument"), "what do `and` / `or` return then, if not a bool?"),
    (["import", "exceptions", "assert"], ("assert", "emits no code for an assert statement"), "and what happens to my asserts under -O?"),
    (["typesseq-mutable", "lists", "slicings"], ("typesseq-mutable", "it does not return the reversed sequence"), "why did my `x = lst.reverse()` end up as None?"),
    (["formatstrings", "integers", "booleans"], ("formatstrings", "it can be escaped by doubling"), "how do I get a literal { into the output of format()?"),
    (["return", "for", "continue"], ("return", "A non-empty \"return\" statement is a syntax error"), "can I return a value from an async generator?"),
]

# (observations as (tool, command key), the key and line that answers, the task)
AGENT = [
    ([("terminal", "pip_show_celery"), ("terminal", "pip_show_django")], ("pip_show_django", "License-Expression: BSD-3-Clause"), "Which license is the installed Django released under?"),
    ([("terminal", "pip_show_django"), ("terminal", "pip_show_celery")], ("pip_show_celery", "Version: 5.7.0"), "What version of celery is installed in the venv?"),
    ([("terminal", "pip_show_tiktoken_psycopg")], ("pip_show_tiktoken_psycopg", "License-Expression: LGPL-3.0-only"), "what license does psycopg use? legal needs to know"),
    ([("terminal", "os_release"), ("terminal", "free")], ("os_release", "VERSION=\"12 (bookworm)\""), "Which Debian release is this server running?"),
    ([("terminal", "free"), ("terminal", "lscpu")], ("free", "Mem:"), "How much memory does the box have in total?"),
    ([("terminal", "lscpu"), ("terminal", "free")], ("lscpu", "L3 cache:"), "How big is the L3 cache on this machine?"),
    ([("terminal", "apt_redis"), ("terminal", "redis_info")], ("redis_info", "redis_version:7.0.15"), "What Redis version is the running server?"),
    ([("terminal", "redis_info"), ("terminal", "apt_redis")], ("apt_redis", "Maintainer: Chris Lamb"), "Who maintains the Debian redis-server package?"),
    ([("psql", "pg_settings"), ("terminal", "free")], ("pg_settings", "max_connections"), "how many connections will postgres accept at most?"),
    ([("psql", "pg_settings")], ("pg_settings", "work_mem "), "What is work_mem set to on the database?"),
    ([("psql", "pg_settings"), ("terminal", "apt_pg")], ("pg_settings", "default_transaction_isolation"), "Which transaction isolation level does postgres use by default here?"),
    ([("terminal", "apt_pg"), ("terminal", "os_release")], ("apt_pg", "Version: 15.20-0+deb12u1"), "What's the newest postgresql-15 package version apt can install?"),
    ([("terminal", "git_log")], ("git_log", "closing socket's cancelled read"), "What did the most recent commit fix?"),
    ([("python", "pip_list"), ("terminal", "pip_show_django")], ("pip_list", "\"name\": \"anthropic\""), "Which version of the anthropic SDK is installed?"),
]

LANGCHAIN_STUFF = "Use the following pieces of context to answer the question at the end. If you don't know the answer, just say that you don't know, don't try to make up an answer.\n\n{context}\n\nQuestion: {question}\nHelpful Answer:"
RLM_RAG = "You are an assistant for question-answering tasks. Use the following pieces of retrieved context to answer the question. If you don't know the answer, just say that you don't know. Use three sentences maximum and keep the answer concise.\nQuestion: {question} \nContext: {context} \nAnswer:"
LLAMAINDEX = "Context information is below.\n---------------------\n{context}\n---------------------\nGiven the context information and not prior knowledge, answer the query.\nQuery: {question}\nAnswer: "
HAYSTACK = "Given the following information, answer the question.\n\nContext:\n{context}\n\nQuestion: {question}\nAnswer:"
COOKBOOK = 'Use the below articles on the Python language to answer the subsequent question. If the answer cannot be found in the articles, write "I could not find an answer."\n\n{context}\n\nQuestion: {question}'
ANTHROPIC = "<documents>\n{context}\n</documents>\n\nAnswer the question using only the documents above. Quote the relevant passage first, in <quote> tags.\n\n{question}"
USER_PASTE = "here's what I found in the python docs:\n\n{context}\n\n{question}"
TEMPLATES = [("langchain_stuff", LANGCHAIN_STUFF), ("rlm_rag_prompt", RLM_RAG), ("llamaindex", LLAMAINDEX),
             ("haystack", HAYSTACK), ("openai_cookbook", COOKBOOK), ("anthropic_xml", ANTHROPIC), ("user_paste", USER_PASTE)]
REACT = "Answer the following questions as best you can. You have access to the following tools:\n\nterminal: Run shell commands on the server. Input is a single command.\npsql: Run a SQL query against the production PostgreSQL database.\npython: A Python shell. Use it to parse JSON or do arithmetic.\n\nUse the following format:\n\nQuestion: the input question you must answer\nThought: you should always think about what to do\nAction: the action to take, should be one of [terminal, psql, python]\nAction Input: the input to the action\nObservation: the result of the action\n... (this Thought/Action/Action Input/Observation can repeat N times)\nThought: I now know the final answer\nFinal Answer: the final answer to the original input question\n\nBegin!\n\nQuestion: {question}\nThought:{scratchpad}"
CONVERSATION = "The following is a friendly conversation between a human and an AI. The AI is talkative and provides lots of specific details from its context. If the AI does not know the answer to a question, it truthfully says it does not know.\n\nCurrent conversation:\n{history}\nHuman: {question}\nAI:"
ASKS = ["what does the {t} part of python do?", "can you explain {t} to me?", "ok and how does {t} work?", "next one: {t}"]


def flat(text: str) -> str:
    return " ".join(text.split())


def prose(topic: str) -> list[str]:
    """The topic's paragraphs; grammar and code (indented) stay with the prose before them, as a chunker keeps them."""
    paras = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", TOPICS[topic]) if p.strip()]
    out: list[str] = []
    for p in paras:
        if out and (p.startswith("   ") or len(p) < 60):
            out[-1] += "\n\n" + p
        else:
            out.append(p)
    return out


def chunks(topic: str, limit: int = 900) -> list[str]:
    out: list[str] = []
    for p in prose(topic):
        if out and len(out[-1]) + len(p) < limit:
            out[-1] += "\n\n" + p
        else:
            out.append(p)
    return out


def answer_sentence(text: str, piece: str) -> str:
    body = next(flat(p) for p in re.split(r"\n[ \t]*\n", text) if piece in flat(p))
    at = body.index(piece)
    starts = [0] + [m.end() for m in re.finditer(r"(?<=[.!?:])\s+(?=[A-Z\"“*(])|\s(?=\* )|\s(?=\d\. )", body)]
    start = max(s for s in starts if s <= at)
    end = re.search(r"[.!?:](?=\s|$)", body[at + len(piece) - 1 :])
    return body[start : at + len(piece) - 1 + (end.end() if end else len(body))].strip()


def tfidf_rank(query: str, docs: list[str]) -> list[int]:
    words = [Counter(re.findall(r"[a-z]+", d.lower())) for d in docs]
    df = Counter(w for c in words for w in c)
    q = Counter(re.findall(r"[a-z]+", query.lower()))

    def vec(c: Counter) -> dict[str, float]:
        return {w: n * math.log(len(docs) / df[w]) for w, n in c.items() if df.get(w)}

    qv = vec(q)
    qn = math.sqrt(sum(v * v for v in qv.values())) or 1.0
    scores = []
    for c in words:
        dv = vec(c)
        dn = math.sqrt(sum(v * v for v in dv.values())) or 1.0
        scores.append(sum(qv[w] * dv.get(w, 0.0) for w in qv) / (qn * dn))
    return sorted(range(len(docs)), key=lambda i: -scores[i])


def rag_rows(rng: random.Random) -> list[dict]:
    pool = [(t, c) for t in TOPICS for c in chunks(t)]
    rows = []
    for n, (topic, piece, question) in enumerate(RAG):
        own = chunks(topic)
        gold = next(i for i, c in enumerate(own) if piece in flat(c))
        picked = [own[gold]] + [own[i] for i in (gold - 1, gold + 1) if 0 <= i < len(own)][:2]
        others = [pool[i][1] for i in tfidf_rank(question, [c for _, c in pool]) if pool[i][0] != topic][:2]
        docs = picked + others
        rng.shuffle(docs)
        name, template = TEMPLATES[n % len(TEMPLATES)]
        if name == "anthropic_xml":
            context = "\n".join(f'<document index="{i + 1}">\n<source>python-reference.txt</source>\n<document_content>\n{d}\n</document_content>\n</document>' for i, d in enumerate(docs))
        elif name == "openai_cookbook":
            context = "\n\n".join(f'Article:\n"""\n{d}\n"""' for d in docs)
        else:
            context = "\n\n".join(docs)
        rows.append({"id": f"rag-{n:03d}", "category": "rag", "layout": name, "question": question,
                     "prompt": template.format(context=context, question=question), "answers": [answer_sentence(own[gold], piece)]})
    return rows


def explanation(topic: str, piece: str) -> str:
    """What the assistant answered about a topic: its first four paragraphs, more if the answer is further on."""
    paras = prose(topic)
    k = next(k for k in range(min(4, len(paras)), len(paras) + 1) if piece in flat("\n\n".join(paras[:k]))) if piece else 4
    return "\n\n".join(paras[:k])


def chat_rows() -> list[dict]:
    rows = []
    for n, (topics, (topic, piece), question) in enumerate(CHAT):
        history, messages = [], []
        for k, t in enumerate(topics):
            title = flat(TOPICS[t].split("\n", 1)[0]).replace('"', "")
            ask = ASKS[k % len(ASKS)].format(t=title)
            answer = explanation(t, piece if t == topic else "")
            history += [f"Human: {ask}", f"AI: {answer}"]
            messages += [{"role": "user", "content": ask}, {"role": "assistant", "content": answer}]
        gold = answer_sentence(explanation(topic, piece), piece)
        messages.append({"role": "user", "content": question})
        rows.append({"id": f"chat-{n:03d}", "category": "chat", "layout": "langchain_conversation", "question": question,
                     "prompt": CONVERSATION.format(history="\n".join(history), question=question),
                     "messages": messages, "answers": [gold]})
    return rows


def agent_rows() -> list[dict]:
    rows = []
    for n, (steps, (key, piece), question) in enumerate(AGENT):
        pad = ""
        for tool, name in steps:
            command = TOOLS[name]["command"]
            pad += f" I should check with {tool}.\nAction: {tool}\nAction Input: {command}\nObservation: {TOOLS[name]['output']}\nThought:"
        line = next(ln for ln in TOOLS[key]["output"].split("\n") if piece in ln)
        rows.append({"id": f"agent-{n:03d}", "category": "agent", "layout": "langchain_react", "question": question,
                     "prompt": REACT.format(question=question, scratchpad=pad), "answers": [flat(line)]})
    return rows


def main() -> int:
    if sys.version_info[:2] != (3, 11):
        print("warning: the committed corpus was built from Python 3.11's pydoc topics", file=sys.stderr)
    rows = rag_rows(random.Random(17)) + agent_rows() + chat_rows()
    for row in rows:
        assert all(a and a in flat(row["prompt"]) for a in row["answers"]), row["id"]
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{len(rows)} rows -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
