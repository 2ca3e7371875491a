"""API routes of the budgets app, mounted under /api/v1/."""

from django.urls import path

from budgets import api

urlpatterns = [
    path("budgets", api.BudgetListApi.as_view(), name="budgets"),
    path("budgets/check", api.BudgetCheckApi.as_view(), name="budget-check"),
    path("budgets/<id:budget_id>", api.BudgetDetailApi.as_view(), name="budget-detail"),
    path("budgets/reservations/<uuid:reservation_id>", api.ReservationDetailApi.as_view(),
         name="reservation-detail"),
    path("budgets/reservations/<uuid:reservation_id>/release", api.ReservationReleaseApi.as_view(),
         name="reservation-release"),
    path("budgets/reservations/<uuid:reservation_id>/commit", api.ReservationCommitApi.as_view(),
         name="reservation-commit"),
]
