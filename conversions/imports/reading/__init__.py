"""Reading status files row by row, whatever their format, in bounded memory.

``sniffing.file_format_check`` tells what a file really is from its first bytes (never trusting
the extension alone); ``rows.file_rows`` streams its first sheet as ``(row number, cells)``,
where the row number is the one a spreadsheet shows (the header is row 1) and cells are
strings. A formula cell is given as ``"=" + formula`` (XLS: ``"=" + its cached result``) so
that the row check can refuse it. A file that cannot be read at all raises
``types.UnusableFile`` with a message an admin can act on.

Readers, chosen by measurement on a 1,048,576-row, four-column sheet (2 cores):

- CSV (``csv_reader``): our own strict parser over blocks decoded at once (a bad byte still
  names its row): 2M rows in 7.9 s against 10.5 s for the ``csv`` module it replaced, which
  let a stray quote swallow the rest of the file.
- XLSX (``xlsx``, its zip and parts in ``xlsx_parts``): our own streaming reader over lxml:
  10 s with shared strings (Excel's way), 14 s with inline strings (openpyxl's), 20-125 MB.
  openpyxl read-only took 64 s; python-calamine 1.7 s but 295 MB for four columns, and it
  builds the sheet's whole bounding box in memory, so one cell far right or far down makes it
  a memory bomb.
- XLS (``xls``, at most 65,536 rows): xlrd (``ragged_rows`` so that one wide row does not pad
  them all), 0.4 s for 65,535 rows; python-calamine 0.05 s.

Both spreadsheet formats are read in a child process (``process`` starts ``child``) beside the
row checks and the COPY: by python-calamine (``calamine``) under a memory limit when it can
read the file as the reference readers above would, otherwise by those.

Every reader holds rows and cells to ``limits`` while it reads (the child process for both
spreadsheet formats, whichever reader gave the row), so memory never depends on the file's
shape, and each limit has its own message naming the row or cell.

Modules depend one way only, on ``types`` and ``limits`` first: ``sniffing``; ``csv_reader``
(and ``sniffing``'s advice); ``xls``, ``xlsx_parts`` and ``xlsx``; ``calamine`` (and ``xls``'s
formula scan); ``child`` (every reader); ``process``, which starts ``child`` by its module name
and never imports it; and ``rows``, over ``csv_reader`` and ``process``.
"""
