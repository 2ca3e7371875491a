"""Few-shot examples: the labels that mark an input/output pair, and pruning to the first N of each run."""

from __future__ import annotations

import re

from optimization.compression.splitting import paragraphs

_EXAMPLE_HEADER_RE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?example(?:[ \t]*#?\d+)?[ \t]*(?:\*\*)?[ \t]*[:.)\-]?", re.IGNORECASE
)
INPUT_LABEL_RE = re.compile(
    r"^[ \t]*(?:input|q|question|text|review|user|customer|email|sentence|query|ticket|message)[ \t]*:",
    re.IGNORECASE,
)
OUTPUT_LINE_RE = re.compile(
    r"(?m)^[ \t]*(?:output|a|answer|label|sentiment|assistant|category|intent|response|classification|"
    r"summary|sql|result|reply)[ \t]*:[ \t]*(\S.*)?$",
    re.IGNORECASE,
)


def _has_output(paragraph: str) -> bool:
    return any(m.group(1) for m in OUTPUT_LINE_RE.finditer(paragraph))


def prune_examples(text: str, keep: int) -> tuple[str, list[str]]:
    """Keep the first ``keep`` examples of every run of few-shot examples.

    Returns the pruned text and the dropped paragraphs, both as found in
    ``text`` (the caller restores any placeholders in them).
    """
    paras, seps = paragraphs(text)
    # Assign each paragraph to an example id (or None).
    example_of: list[int | None] = [None] * len(paras)
    current: int | None = None
    next_id = 0
    closed = True
    for i, p in enumerate(paras):
        if _EXAMPLE_HEADER_RE.match(p):
            current, next_id = next_id, next_id + 1
            example_of[i] = current
            closed = _has_output(p)
        elif INPUT_LABEL_RE.match(p) and _has_output(p):
            current, next_id = next_id, next_id + 1
            example_of[i] = current
            closed = True
        elif current is not None and not closed:
            example_of[i] = current
            closed = _has_output(p)
        else:
            current, closed = None, True
    # A run is a sequence of examples uninterrupted by other paragraphs.
    drop: set[int] = set()
    run: list[int] = []
    runs: list[list[int]] = []
    for ex in example_of + [None]:
        if ex is None:
            if run:
                runs.append(run)
            run = []
        elif not run or run[-1] != ex:
            run.append(ex)
    for run in runs:
        drop.update(run[keep:])
    if not drop:
        return text, []
    removed, out = [], []
    for i, p in enumerate(paras):
        if example_of[i] in drop:
            removed.append(p)
            continue
        out.append(p + seps[i])
    return "".join(out).rstrip(), removed
