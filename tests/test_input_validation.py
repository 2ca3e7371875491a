"""The one input rule (core.validation) and where it is enforced: bodies, records, query parameters, path ids."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from rest_framework.exceptions import ValidationError

from core.api.fields import StrictCharField
from core.validation import json_text_errors, parse_iso, parse_iso_datetime, text_error
from tokens.models import UsageRecord

NUL, SURROGATE = "\x00", "\ud800"


@pytest.mark.parametrize("value, max_length, problem", [
    ("plain", None, None),
    ("émoji 😀 ok", None, None),
    ("a\x00b", None, "Null characters are not allowed."),
    ("é\x00", None, "Null characters are not allowed."),
    ("a\ud800b", None, "Surrogate characters are not allowed (not valid Unicode)."),
    ("x" * 201, 200, "At most 200 characters."),
    ("x" * 200, 200, None),
])
def test_text_error(value, max_length, problem):
    assert text_error(value, max_length) == problem


def test_json_text_errors_name_every_dotted_path_at_any_depth():
    data = {"ok": ["fine", {"deep": [1, "a\x00"]}], "k\ud800": 1, "n": {"m": "\udc00"}}
    assert json_text_errors(data, "metadata") == {
        "metadata.ok.1.deep.1": ["Null characters are not allowed."],
        "metadata": ["A key: Surrogate characters are not allowed (not valid Unicode)."],
        "metadata.n.m": ["Surrogate characters are not allowed (not valid Unicode)."],
    }
    assert json_text_errors({"fine": ["😀", {"x": "y"}]}) == {}


@pytest.mark.parametrize("value, expected", [
    ("2024-02-29", date(2024, 2, 29)),
    ("2024-01-01T10:00:00Z", datetime(2024, 1, 1, 10, tzinfo=UTC)),
    ("2024-01-01 10:00:00.123456789+02:00", datetime(2024, 1, 1, 10, 0, 0, 123456,
                                                     tzinfo=timezone(timedelta(hours=2)))),
    ("2024-01-01T10:00", datetime(2024, 1, 1, 10)),
    ("2024-02-30", None),
    ("2023-02-29", None),
    ("2024-01-01T00:00:00+99:00", None),
    ("2024-01-01T00:00:00+24:00", None),
    ("2024-01-01T24:00:00", None),
    ("2024-01-01T00:00:00Zjunk", None),
    ("2024-01-01T00:00:00\n", None),
    ("2024-01-01junk", None),
    ("20240101", None),
    ("2024-W01-1", None),
    ("yesterday", None),
    ("", None),
])
def test_parse_iso_refuses_impossible_dates_offsets_and_trailing_text(value, expected):
    assert parse_iso(value) == expected


def test_parse_iso_datetime_reads_dates_and_naive_times_as_utc():
    assert parse_iso_datetime("2024-03-01") == datetime(2024, 3, 1, tzinfo=UTC)
    assert parse_iso_datetime("2024-03-01T05:00") == datetime(2024, 3, 1, 5, tzinfo=UTC)


def _post(client, url, body):
    # json.dumps escapes a lone surrogate as \ud800, as any JSON client would send it.
    return client.generic("POST", url, json.dumps(body), content_type="application/json")


@pytest.mark.django_db
def test_a_body_with_invalid_text_anywhere_is_a_400_naming_the_dotted_path(api):
    response = _post(api, "/api/v1/tokens/count", {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "hi"}, {"role": "user", "content": [{"type": "text", "text": "a" + NUL}]}]})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"messages.1.content.0.text": ["Null characters are not allowed."]}
    response = _post(api, "/api/v1/cache/store", {"model": "gpt-4o", "messages": [{"role": "user", "content": "q"}],
                                                  "response": {"choices": [{"text": SURROGATE}]}})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["response.choices.0.text"]


@pytest.mark.django_db
def test_nested_serializer_errors_are_named_by_dotted_path(api):
    response = api.post("/api/v1/tokens/count", {"model": "gpt-4o", "messages": [{"role": "user"}, "not a dict"]},
                        format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["messages.1"]


@pytest.mark.django_db(transaction=True)
def test_a_batch_refuses_only_the_record_with_invalid_text_and_stores_the_rest(api):
    records = [{"request_id": f"r-{i}", "model": "gpt-4o", "prompt_tokens": 1, "completion_tokens": 1,
                "metadata": {"step": i}} for i in range(4)]
    records[1]["agent"] = "tri" + NUL + "age"
    records[2]["metadata"] = {"trace": {"k" + SURROGATE: 1}}
    records[3]["occurred_at"] = "2024-02-30T00:00:00Z"
    response = _post(api, "/api/v1/usage", {"records": records})
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "invalid", "invalid", "invalid"]
    assert results[1]["errors"] == {"agent": ["Null characters are not allowed."]}
    assert results[2]["errors"] == {"metadata.trace": [
        "A key: Surrogate characters are not allowed (not valid Unicode)."]}
    assert results[3]["errors"] == {"occurred_at": ["Must be an ISO 8601 timestamp."]}
    assert list(UsageRecord.objects.values_list("request_id", flat=True)) == ["r-0"]


@pytest.mark.django_db
def test_one_record_with_invalid_text_is_a_400_naming_the_field(api):
    response = _post(api, "/api/v1/usage", {"request_id": "x" + SURROGATE, "model": "gpt-4o",
                                            "prompt_tokens": 1, "completion_tokens": 1})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "request_id": ["Surrogate characters are not allowed (not valid Unicode)."]}


@pytest.mark.django_db
@pytest.mark.parametrize("query, field", [
    ("agent=%00", "agent"),
    ("run_id=" + "r" * 201, "run_id"),
    ("model=" + "m" * 1001, "model"),
    ("from=2024-02-30", "from"),
    ("to=2024-01-01T00:00:00%2B99:00", "to"),
    ("to=2024-01-01T00:00:00Zjunk", "to"),
    ("user=%00", "user"),
    ("user=" + "u" * 151, "user"),
])
def test_query_parameters_are_checked_before_any_lookup(api, query, field):
    response = api.get(f"/api/v1/usage?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", [
    "/api/v1/runs/a%00b", "/api/v1/runs/" + "r" * 201, "/api/v1/templates/a%00/render",
    "/api/v1/budgets/abc", "/api/v1/budgets/" + "9" * 19, "/api/v1/budgets/-1",
])
def test_a_path_id_that_cannot_exist_matches_no_url(api, path):
    response = api.get(path) if "templates" not in path else api.post(path, {}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_pages_and_admin_refuse_a_nul_in_the_query_with_a_400(client, staff_user):
    client.force_login(staff_user)
    response = client.get("/admin/tokens/usagerecord/?q=%00")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert client.get("/admin/tokens/usagerecord/?q=fine").status_code == 200


def test_strict_char_field_refuses_a_surrogate_with_drfs_message_at_c_speed():
    field = StrictCharField()
    assert field.run_validation("plain ascii") == "plain ascii"
    assert field.run_validation("naïve — ok") == "naïve — ok"
    with pytest.raises(ValidationError) as caught:
        field.run_validation("naïve \ud800 text")
    assert caught.value.detail == ["Surrogate characters are not allowed: U+D800."]
    with pytest.raises(ValidationError) as caught:
        field.run_validation("a\x00b")
    assert caught.value.detail == ["Null characters are not allowed."]
