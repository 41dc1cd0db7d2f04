"""A reader child whose calamine stops after it has sent three rows, as at its memory limit
(``GOKART_TEST_TAMPER=1``: after sending rows that the reference reader would not give); the
reference reader runs as it is. Started by ``process`` in place of the real child."""

import json
import marshal
import os
import sys

from conversions.imports.reading import child


def main(file_format, reader, path, options):
    if reader != "calamine":
        child._child(file_format, reader, path, options)
        return
    from django.conf import settings

    settings.configure(**options["settings"])
    if file_format == "xlsx":
        from conversions.imports.reading.xlsx import xlsx_rows as rows
    else:
        from conversions.imports.reading.xls import xls_rows as rows
    batch, crc = [], 0
    for number, cells in rows(path):
        if os.environ.get("GOKART_TEST_TAMPER") and number == 2:
            cells = ["tampered", *cells[1:]]
        crc = child.row_crc(number, cells, crc)
        batch.append((number, cells))
        if len(batch) == 3:
            break
    data = marshal.dumps(("rows", batch, crc))
    sys.stdout.buffer.write(len(data).to_bytes(4, "little") + data)
    sys.stdout.buffer.flush()
    sys.stderr.write("memory allocation of 268435456 bytes failed\n")
    sys.stderr.flush()
    os._exit(134)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
