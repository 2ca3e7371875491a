"""Invalid text, impossible dates and malformed ids everywhere: 4xx naming the field, never a 5xx or a lost record."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api import bad_input


def test_the_case_table_has_a_valid_request_for_every_operation(schema):
    """A new operation gets its bad-input cases as soon as it is in the schema (or this fails)."""
    source = Path(bad_input.__file__).read_text()
    missing = [f"{method.upper()} {path}" for path, method, _ in schema.operations()
               if f'("{method.upper()}", "{path}"' not in source]
    assert missing == []


@pytest.mark.django_db(transaction=True)
def test_bad_input_everywhere_is_refused_by_field_and_never_a_5xx(user, api, make_client, staff_user):
    cases = bad_input.run(alice=user, client=api, staff_client=make_client(staff_user))
    print(bad_input.table(cases))
    assert len(cases) > 500
    assert [c for c in cases if c.status >= 500] == []
    assert bad_input.failures(cases) == []
    batches = [c for c in cases if c.kind == "batch"]
    assert {c.status for c in batches} == {207}
    assert sum(c.lost for c in batches) == 0
