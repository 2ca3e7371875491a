"""Server-rendered pages of the tokens app (the live usage page)."""

urlpatterns: list = []
