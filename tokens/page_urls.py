"""Server-rendered pages of the tokens app (the live usage page)."""

from django.urls import path

from tokens import views

urlpatterns = [
    path("live/", views.live_page, name="live"),
    path("live/snapshot/", views.live_snapshot_json, name="live-snapshot"),
]
