"""The live usage page and its JSON snapshot."""

from django.urls import path

from live import views

urlpatterns = [
    path("live/", views.live_page, name="live"),
    path("live/snapshot/", views.live_snapshot_json, name="live-snapshot"),
]
