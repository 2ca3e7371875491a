"""Periodic jobs for the embedded default, where no `celery beat` runs.

When Celery is eager (no broker), a daemon thread in the server process runs
each entry of CELERY_BEAT_SCHEDULE at its interval. With a broker configured
this does nothing: run `celery -A netra_site beat` instead.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings

from netra_site.celery import app

logger = logging.getLogger(__name__)
_started = False


def _interval_seconds(schedule) -> float:
    if isinstance(schedule, (int, float)):
        return float(schedule)
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    run_every = getattr(schedule, "run_every", None)
    if isinstance(run_every, timedelta):
        return run_every.total_seconds()
    return 60.0


def _loop() -> None:
    app.loader.import_default_modules()  # autodiscover the apps' tasks modules
    schedule = {
        name: entry
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] in app.tasks
    }
    missing = set(settings.CELERY_BEAT_SCHEDULE) - set(schedule)
    if missing:
        logger.warning("periodic jobs without a registered task, not run: %s", ", ".join(sorted(missing)))
    next_run = {name: time.monotonic() + 5 for name in schedule}
    while True:
        now = time.monotonic()
        for name, entry in schedule.items():
            if now < next_run[name]:
                continue
            next_run[name] = now + _interval_seconds(entry["schedule"])
            try:
                app.tasks[entry["task"]].apply(args=entry.get("args", ()))
            except Exception:  # a failing job must not stop the others
                logger.exception("embedded periodic job %s failed", name)
        time.sleep(1)


def start_embedded_beat() -> None:
    global _started
    if _started or not settings.CELERY_TASK_ALWAYS_EAGER or settings.TESTING:
        return
    if not settings.NETRA_EMBEDDED_BEAT:
        return
    _started = True
    threading.Thread(target=_loop, name="netra-embedded-beat", daemon=True).start()
