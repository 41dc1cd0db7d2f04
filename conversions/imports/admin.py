"""Bulk status import and report export on Conversion Management (django-import-export).

Placeholder: the bulk-import issue fills this in. ConversionAdmin mixes it in first.
"""


class ConversionImportExportMixin:
    pass
