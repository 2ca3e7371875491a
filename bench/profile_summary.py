#!/usr/bin/env python3
"""Summarise py-spy collapsed stacks (``py-spy record --format raw``) as text tables.

    .venv/bin/python bench/profile_summary.py FILE [FILE...] [--top 30] [--match tokens/]

Prints, over all samples where a thread was running Python (idle samples,
when py-spy was run with ``--idle``, are counted apart): the functions with
the most inclusive time (a function counts once per sample however deep it
recurs) and the most self time.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

IDLE = re.compile(r"(select|poll|epoll|wait|acquire|sleep|_worker|read_ready|accept)\b.*\((selectors|threading|"
                  r"concurrent/futures/thread|twisted/internet/epollreactor|queue|asyncio/base_events)\.py")


def frame_name(frame: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module path without site-packages prefix)"
    match = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame.strip())
    if not match:
        return frame.strip()
    func, path = match.groups()
    path = re.sub(r".*/site-packages/", "", path)
    path = re.sub(r".*/wt-[^/]+/|.*/work/main/", "", path)
    path = re.sub(r".*/lib/python3\.\d+/", "", path)
    return f"{func} ({path})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default="", help="only list functions whose name contains this")
    args = parser.parse_args()

    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    busy = idle = 0
    for path in args.files:
        with open(path) as fh:
            for line in fh:
                stack, _, count = line.rstrip("\n").rpartition(" ")
                if not stack:
                    continue
                n = int(count)
                frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
                if not frames:
                    continue
                if IDLE.search(frames[-1]):
                    idle += n
                    continue
                busy += n
                names = [frame_name(f) for f in frames]
                for name in set(names):
                    inclusive[name] += n
                self_time[names[-1]] += n
    print(f"{busy} busy samples, {idle} idle samples")
    for title, counter in (("inclusive", inclusive), ("self", self_time)):
        print(f"\n{title} % of busy samples")
        shown = 0
        for name, n in counter.most_common():
            if args.match and args.match not in name:
                continue
            print(f"{100 * n / busy:6.1f}  {name}")
            shown += 1
            if shown >= args.top:
                break


if __name__ == "__main__":
    main()
