"""Postback tokens kept out of the logs.

An advertiser may send its offer's token in the query string (``GET /postback/?…&token=…``),
and every request log writes the query string: runserver's request lines (``django.server``),
the request Django attaches to ``django.request``'s records (the admins' error mail shows its
URL, GET and META), gunicorn's access log (``%(r)s``, ``%(q)s``) and its error log. Anyone who
reads a log could then record conversions for that offer. The value of every ``token``
parameter is masked as ``token=[masked]`` instead; the rest of the line (the path, the click id)
stays, since that is what someone reading the log is after. A postback's ``cnv_email`` (personal
data) is masked the same way.

One filter does it everywhere: ``LOGGING`` puts :class:`TokensMasked` on ``django.request`` and
``django.server``, and ``gokart.gunicorn_config``'s logger class on gunicorn's access and error
logs.
"""

from __future__ import annotations

import copy
import logging
import re
from urllib.parse import unquote_plus

from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict

# Parameters whose value is a secret (the postback token, ``conversions.views``) or personal
# data (a postback's ``cnv_email``, ``conversions.tracking_parameters``): masked alike.
SECRET_PARAMETERS = frozenset({"token", "cnv_email"})
MASK = "[masked]"

# A ``name=value`` pair of a query string, in a URL or on its own: it starts the text or a
# line, or follows ``?``, ``&``, ``;``, a space or a quote.
_PAIR = re.compile(r"(^|[?&;\s\"'])([^=&;#?\s\"']+)=([^&;#\s\"']*)", re.MULTILINE)

# The request's entries that carry the query string (gunicorn adds RAW_URI).
_META_WITH_QUERY = ("QUERY_STRING", "RAW_URI", "REQUEST_URI")


def query_tokens_mask(text: str) -> str:
    """``text`` with the value of every ``token=`` parameter (its name percent-encoded or not,
    any case) replaced by ``[masked]``."""
    if "=" not in text:
        return text

    def masked(pair: re.Match[str]) -> str:
        start, name, _ = pair.groups()
        if unquote_plus(name).lower() not in SECRET_PARAMETERS:
            return pair.group(0)
        return f"{start}{name}={MASK}"

    return _PAIR.sub(masked, text)


def request_tokens_masked(request: HttpRequest) -> HttpRequest:
    """The request itself when its query string has no token, else a copy whose query string,
    ``GET``, ``POST`` and URL-carrying ``META`` entries are masked (the request the view is
    handling is left as it is). A body not read yet is not read here: the copy shows none."""
    carried = {key: str(request.META[key]) for key in _META_WITH_QUERY if key in request.META}
    masked = {key: query_tokens_mask(value) for key, value in carried.items()}
    if masked == carried:
        return request
    shown = copy.copy(request)
    shown.META = {**request.META, **masked}
    shown.GET = QueryDict(shown.META.get("QUERY_STRING", ""))
    posted = request.__dict__.get("_post")
    shown._post = _masked_copy(posted) if posted is not None else QueryDict()  # type: ignore[attr-defined]
    shown._files = MultiValueDict()  # type: ignore[attr-defined]
    return shown


def _masked_copy(values: QueryDict) -> QueryDict:
    masked = values.copy()
    for name in list(masked):
        if name.lower() in SECRET_PARAMETERS:
            masked.setlist(name, [MASK] * len(masked.getlist(name)))
    return masked


class TokensMasked(logging.Filter):
    """A logging filter that masks tokens in the record's message and in the request it
    carries (``record.request``, when it is an ``HttpRequest``; a request it cannot mask is
    taken off the record); it drops no record and never raises."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 -- a record that cannot be formatted is logging's to report
            return True
        shown = query_tokens_mask(message)
        if shown != message:
            record.msg, record.args = shown, None
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest):
            # ``request`` is an extra of Django's records, not a LogRecord attribute.
            try:
                record.__dict__["request"] = request_tokens_masked(request)
            except Exception:  # noqa: BLE001 -- a query Django refuses to read (too many fields…)
                del record.__dict__["request"]  # handlers then show no request, not its token
        return True
