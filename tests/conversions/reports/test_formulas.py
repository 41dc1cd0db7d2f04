"""The one formula-escaping rule: the same in Python and in the SQL of the rejected-rows report."""

import pytest
from django.db import connection

from conversions.reports.formulas import (
    FORMULA_PREFIXES,
    formula_escape,
    formula_escape_sql,
    formula_unescape,
)

VALUES = [*(prefix + "SUM(A1)" for prefix in FORMULA_PREFIXES), "plain", "'quoted", "", "a=b"]


@pytest.mark.parametrize("value", VALUES)
def test_escaping_then_unescaping_gives_the_value_back(value):
    assert formula_unescape(formula_escape(value)) == value


@pytest.mark.django_db
def test_the_sql_rule_escapes_exactly_what_the_python_rule_does():
    # Given every kind of value, when PostgreSQL escapes them with the generated expression
    with connection.cursor() as cursor:
        escape = formula_escape_sql("v")  # our own expression, over our own column
        sql = f"SELECT {escape} FROM unnest(%s::text[]) WITH ORDINALITY t(v, n) ORDER BY n"  # noqa: S608
        cursor.execute(sql, [VALUES])
        escaped = [value for (value,) in cursor.fetchall()]

    # Then each comes out as the Python rule writes it
    assert escaped == [formula_escape(value) for value in VALUES]
