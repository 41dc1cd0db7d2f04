"""QR codes of authenticator set-up links, as inline SVG (no script, no image request)."""

import segno
from django.utils.safestring import SafeString, mark_safe


def qr_svg(data: str) -> SafeString:
    """An ``<svg>`` element encoding ``data`` (built by segno from the data alone)."""
    code = segno.make(data, error="m", micro=False)
    # omitsize: a viewBox instead of a fixed size, so that the style sheet can size it
    svg = code.svg_inline(border=4, dark="#000", light="#fff", omitsize=True)
    return mark_safe(svg)  # noqa: S308 -- segno writes only path data from ``data``
