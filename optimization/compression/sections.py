"""Which parts of a prompt are material (context) and which are the caller's own words.

Question-aware compression may drop material, never instructions or the
question. Material is recognised the way people and frameworks lay it out:

- under a context heading ("Context:", "### Documents", "Context information
  is below.", "Here are the search results:"), or after a paragraph that ends
  by announcing it ("Use the following pieces of context ...:");
- a paragraph that opens with a source tag ("[DOC-12] ...", "Document 3:",
  "Source: ...") or a tool result label ("Observation:", "Tool result:");
- inside XML-style blocks (<context>, <documents>, <document>,
  <search_results>, <retrieved>, ...) or between "-----" delimiter lines;
- given a question, any other paragraph that reads as text rather than as an
  instruction to the model (no opening imperative or "you", no question
  label, not the question itself).

A line that repeats the question, or opens with a question, task or
instruction label ("Question:", "Query:", "Task:", "Human:"), ends the
material and is never dropped.
"""

from __future__ import annotations

import re

from optimization.compression.extractive import _CONTEXT_HEADING_RE, _HEADING_RE, _SOURCE_TAG_RE
from optimization.relevance import terms

_CONTEXT_INTRO_RE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?(?:context information is below|here (?:is|are) (?:the |some )?"
    r"(?:relevant |retrieved |supporting )?(?:context|documents?|search results|sources|passages|excerpts|"
    r"information|notes|articles|results)|(?:relevant |retrieved )?(?:context|documents?|sources|passages|"
    r"search results|tool results?|observations?)[ \t]*(?:\(.{0,40}\))?)(?:\*\*)?[ \t]*[:.]?[ \t]*$",
    re.IGNORECASE,
)
# "Use the following pieces of context to answer ...", "... the documents below:".
_ANNOUNCES_RE = re.compile(
    r"(?:following|below)[^.\n]{0,60}(?:context|documents?|passages?|excerpts?|sources?|results?|information|"
    r"articles?|notes)|(?:context|documents?|passages?|sources|results|information)[^.\n]{0,20}(?:below|follows?)",
    re.IGNORECASE,
)
_DELIMITER_RE = re.compile(r"^[ \t]*(?:-{3,}|={3,}|\*{3,}|_{3,}|\"{3}|'{3}|#{3,})[ \t]*$")
_XML_OPEN_RE = re.compile(
    r"^[ \t]*<(context|documents?|search_results?|retrieved\w*|sources?|passages?|excerpts?|knowledge\w*|"
    r"reference\w*|tool_results?|observations?|document_content|articles?|chunks?|results?|data)\b[^>]*>",
    re.IGNORECASE,
)
_XML_LINE_RE = re.compile(r"^[ \t]*</?[A-Za-z_][\w:-]*(?:[ \t][^>]*)?>[ \t]*$")
_MATERIAL_LABEL_RE = re.compile(
    r"^[ \t]*(?:\[[^\]\n]{1,40}\][ \t]*)?(?:observation|tool (?:result|output)|function (?:result|output)|"
    r"search results?|result|output of \w+|document(?: \w{1,12})?|doc(?: \w{1,12})?|source(?: \w{1,12})?|"
    r"passage(?: \w{1,12})?|excerpt(?: \w{1,12})?|chunk(?: \w{1,12})?|title|snippet|page content)[ \t]*[:#]",
    re.IGNORECASE,
)
# The caller's own words: a question, a task, an answer slot, a chat turn of the user.
_OWN_LABEL_RE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?(?:question|query|q|task|instructions?|user question|user query|"
    r"request|human|user|answer|a|helpful answer|final answer|response|thought|action|action input|"
    r"original question|follow[- ]up question|standalone question|system|rules?|goal|objective)"
    r"(?:\*\*)?[ \t]*:",
    re.IGNORECASE,
)
_LIST_MARK_RE = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+")
# Openers of an instruction to the model: an imperative or a sentence about "you".
_INSTRUCTION_OPENERS = frozenset(
    "you your you're answer use do don't never always if please respond reply return cite keep be only write "
    "provide given based act think make ensure avoid include format read consider remember note important "
    "output list explain summarize summarise translate classify extract rewrite identify decide choose "
    "check find compare describe suggest recommend draft help assist when stay refuse ignore follow "
    "respect mention state prefer limit start end begin instead".split()
)
_FIRST_WORD_RE = re.compile(r"[A-Za-z']+")


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def holds_question(text: str, question: str) -> bool:
    """Whether ``text`` states the question (verbatim, or most of its terms and a question mark)."""
    if not question.strip():
        return False
    q = _normal(question)
    if q and q in _normal(text):
        return True
    wanted = set(terms(question))
    return bool(wanted) and "?" in text and len(wanted & set(terms(text))) >= 0.8 * len(wanted)


def is_instruction(paragraph: str) -> bool:
    """Whether a paragraph reads as an instruction to the model (its first words decide)."""
    first_line = _LIST_MARK_RE.sub("", paragraph.lstrip().split("\n", 1)[0])
    if _OWN_LABEL_RE.match(first_line):
        return True
    word = _FIRST_WORD_RE.search(first_line)
    return bool(word) and word.group(0).lower() in _INSTRUCTION_OPENERS


def structural(line: str) -> bool:
    """A line that frames material rather than being it: a heading, tag, delimiter or label alone."""
    return bool(
        not line.strip()
        or _DELIMITER_RE.match(line)
        or _XML_LINE_RE.match(line)
        or _CONTEXT_INTRO_RE.match(line)
        or _HEADING_RE.match(line)
        or (_SOURCE_TAG_RE.match(line) and len(line.split()) <= 2)
    )


def own_words(line: str, question: str) -> bool:
    """A line the compressor never drops: a question, task or instruction label, or the question itself."""
    return bool(_OWN_LABEL_RE.match(line)) or holds_question(line, question)


def material_paragraphs(paras: list[str], question: str) -> set[int]:
    """Indices of the paragraphs that hold material (see the module docstring)."""
    found: set[int] = set()
    in_block = False  # after a context heading or announcement, or inside a delimited/XML block
    xml_depth = 0
    delimited = False
    for i, para in enumerate(paras):
        lines = para.strip("\n").split("\n")
        head = lines[0] if lines else ""
        labelled = any(_MATERIAL_LABEL_RE.match(line) for line in lines)  # "Observation: ..." in a scratchpad
        if own_words(head, question) and not labelled:
            in_block = delimited = False
            if not xml_depth:
                continue
        opens_block = False
        for line in lines:
            if _XML_OPEN_RE.match(line) and not line.strip().startswith("</"):
                xml_depth += 1
                opens_block = True
            elif re.match(r"^[ \t]*</", line) and xml_depth:
                xml_depth -= 1
            if _DELIMITER_RE.match(line):
                delimited = not delimited
                opens_block = True
        if _HEADING_RE.match(head) and not _MATERIAL_LABEL_RE.match(head):
            in_block = bool(_CONTEXT_HEADING_RE.match(head) or _CONTEXT_INTRO_RE.match(head))
        elif _CONTEXT_INTRO_RE.match(head):
            in_block = True
        material = (
            in_block or delimited or xml_depth > 0 or opens_block
            or _SOURCE_TAG_RE.match(para) or labelled
            or (question and not is_instruction(para) and not holds_question(para, question))
        )
        if material:
            found.add(i)
        # A paragraph that announces material makes what follows material.
        last = para.rstrip()
        if not material and last.endswith(":") and _ANNOUNCES_RE.search(last.rsplit("\n", 1)[-1]):
            in_block = True
        elif not material and _ANNOUNCES_RE.search(para) and question:
            in_block = True
    return found
