"""Celery app. Eager (in-process) when no broker is configured."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.settings")

app = Celery("netra_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
