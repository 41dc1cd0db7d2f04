import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_login_shows_conversion_management(admin_page):
    assert "Conversion Management" in admin_page.content()
