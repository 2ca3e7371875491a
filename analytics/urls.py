"""API routes of the analytics app, mounted under /api/v1/."""

urlpatterns: list = []
