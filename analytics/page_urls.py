"""Server-rendered pages of the analytics app (dashboard, reports)."""

urlpatterns: list = []
