"""The Content-Security-Policy's promises: nothing inline in our templates, and the only style
attributes allowed are django-import-export's, by hash."""

import base64
import hashlib
import re
from pathlib import Path

import import_export
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')


def our_templates() -> list[Path]:
    return sorted((ROOT / "templates").rglob("*.html"))


def test_our_templates_have_no_inline_script_handler_or_style_attribute():
    assert our_templates()
    for template in our_templates():
        text = template.read_text()
        assert not INLINE_SCRIPT.search(text), template
        assert not EVENT_HANDLER.search(text), template
        assert not STYLE_ATTRIBUTE.search(text), template


def test_the_allowed_style_attributes_are_exactly_those_of_the_import_export_pages():
    templates = Path(import_export.__file__).parent / "templates"
    values = {
        value
        for template in templates.rglob("*.html")
        for value in STYLE_ATTRIBUTE.findall(template.read_text())
    }
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(value.encode()).digest()).decode() + "'"
        for value in values
    }

    assert values == {"padding: 0;", "font-weight: bold;"}
    assert set(settings.CSP_STYLE_ATTRIBUTE_HASHES) == hashes
    policy = str(settings.CONTENT_SECURITY_POLICY)
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
