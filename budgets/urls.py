"""API routes of the budgets app, mounted under /api/v1/."""

urlpatterns: list = []
