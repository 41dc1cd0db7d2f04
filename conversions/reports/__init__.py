"""The conversion report: what Conversion Management exports, and the rules every spreadsheet
file this back office writes follows.

- ``export``: the report of the list as filtered, streamed as CSV or XLSX (``xlsx``);
- ``formulas``: the one formula-escaping rule (export, rejected-rows report, and its undoing on
  import);
- ``csv_writer``: the one CSV writer (UTF-8 with a byte order mark, so that Excel reads it).
"""
