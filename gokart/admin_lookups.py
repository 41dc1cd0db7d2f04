"""The admin's lists filter only through their own filters.

Django's changelist applies every query parameter that none of its filters read as a lookup on
the model (``queryset.filter(**remaining)``), and ``ModelAdmin.lookup_allowed`` lets through
any lookup on the model's own fields. So anyone who may view a list could read a column it
does not show, a character at a time: ``/admin/conversions/offer/?id__exact=12&
postback_secret__regex=^[A-M]`` answered "1 offer" or "0 offers"; the same on a partner's
signing secret or an authenticator app's key.

Here a list refuses a query parameter that would reach the queryset as a lookup of its own,
with ``DisallowedModelAdminLookup`` (Django answers 400 "Bad Request" and logs the request to
``django.security.DisallowedModelAdminLookup``). What a list accepts is what reads the query
before that:

- its ``list_filter``: each filter takes its own parameters out of the query, its
  ``expected_parameters()`` (Django's field filters ``<field>__exact``, ``__isnull``,
  ``__gte``/``__lt``, ``<relation>__id__exact``…; a ``SimpleListFilter`` its
  ``parameter_name``; our date ranges ``__gte``/``__lt``), so the allowed lookups are exactly
  the ones the filters read, not a list kept beside them;
- its ``date_hierarchy`` (``<field>__year``, ``__month``, ``__day``);
- a raw-id popup's ``limit_choices_to`` values, which Django's ``lookup_allowed`` lets through
  so that the popup lists only the choices the field allows;
- the search (``q``), sorting, page and popup parameters, which Django sets aside as not
  lookups at all.

Every ``ModelAdmin`` registered on ``admin.site`` is given this by ``GoKartAdminSite.register``
(``lookups_guarded``): ours, and django-otp's, django-axes' and ``django.contrib.auth``'s.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import ModelAdmin
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import url_params_from_lookup_dict
from django.db.models import Model
from django.http import HttpRequest


class FilteredOnlyChangeList(ChangeList):
    """A changelist that refuses query parameters its filters do not read (see the module
    docstring). Mixed in before the admin's own changelist class by ``FilteredOnlyAdmin``."""

    def get_filters(self, request: HttpRequest) -> Any:
        asked = self.get_filters_params()
        filters = super().get_filters(request)
        # What no filter took out of the query: Django would apply it as a lookup.
        unread = set(asked) & set(filters[2])
        if self.date_hierarchy and f"{self.date_hierarchy}__year" in asked:
            # The hierarchy's own bounds, put in place of a year, month or day.
            unread -= {f"{self.date_hierarchy}__gte", f"{self.date_hierarchy}__lt"}
        popup = _popup_lookups(self.model)
        unread = {key for key in unread if not all((key, v) in popup for v in asked[key])}
        if unread:
            raise DisallowedModelAdminLookup(
                f"Filtering by {', '.join(sorted(unread))} not allowed: this list filters "
                "only through its own filters."
            )
        return filters


def _popup_lookups(model: type[Model]) -> set[tuple[str, str]]:
    """The (parameter, value) pairs a raw-id popup of a relation to ``model`` asks for: its
    ``limit_choices_to``, as Django's ``lookup_allowed`` allows them."""
    pairs: set[tuple[str, str]] = set()
    for lookups in model._meta.related_fkey_lookups:
        asked = url_params_from_lookup_dict(lookups() if callable(lookups) else lookups)
        pairs.update(asked.items())
    return pairs


_guarded: dict[type[ChangeList], type[ChangeList]] = {}


def changelist_guarded(changelist_class: type[ChangeList]) -> type[ChangeList]:
    """``changelist_class`` refusing query parameters its filters do not read (one class made
    per changelist class, not per request)."""
    if issubclass(changelist_class, FilteredOnlyChangeList):
        return changelist_class
    if changelist_class not in _guarded:
        _guarded[changelist_class] = type(
            changelist_class.__name__, (FilteredOnlyChangeList, changelist_class), {}
        )
    return _guarded[changelist_class]


class FilteredOnlyAdmin(ModelAdmin):
    """A model admin whose list (and whatever else builds its changelist, such as the
    conversions' export) filters only through its own filters."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return changelist_guarded(super().get_changelist(request, **kwargs))


def lookups_guarded(admin_class: type[ModelAdmin]) -> type[ModelAdmin]:
    """``admin_class`` as a ``FilteredOnlyAdmin``: a subclass of it with the same name (the
    admin's messages and checks name it as before), or itself when it already is one."""
    if issubclass(admin_class, FilteredOnlyAdmin):
        return admin_class
    return type(
        admin_class.__name__,
        (FilteredOnlyAdmin, admin_class),
        {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
    )
