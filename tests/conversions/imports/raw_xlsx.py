"""Hand-written XLSX files for hostile-input tests: any sheet XML, any shared strings."""

import io
import zipfile

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/></Types>'
)


def xlsx_raw(sheet_data, strings=(), *, sheet_kind="worksheet", sheet_prolog="", shared_xml=None):
    """An XLSX whose first sheet's ``<sheetData>`` holds ``sheet_data`` (XML text or bytes)."""
    if isinstance(sheet_data, str):
        sheet_data = sheet_data.encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr(
            "_rels/.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{PKG}"><Relationship Id="rId1" '
            f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0"?><workbook xmlns="{NS}" xmlns:r="{REL}"><sheets>'
            '<sheet name="Statuses" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{PKG}">'
            f'<Relationship Id="rId1" Type="{REL}/{sheet_kind}" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>",
        )
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                f'<?xml version="1.0"?>{sheet_prolog}<worksheet xmlns="{NS}"><sheetData>'.encode()
            )
            sheet.write(sheet_data)
            sheet.write(b"</sheetData></worksheet>")
        if shared_xml is None:
            items = "".join(f"<si><t>{text}</t></si>" for text in strings)
            shared_xml = f'<?xml version="1.0"?><sst xmlns="{NS}">{items}</sst>'
        archive.writestr("xl/sharedStrings.xml", shared_xml)
    return out.getvalue()


def cell(reference, value):
    """An inline-string or number cell."""
    if isinstance(value, int):
        return f'<c r="{reference}"><v>{value}</v></c>'
    return f'<c r="{reference}" t="inlineStr"><is><t>{value}</t></is></c>'


def row(number, values, *, reference=None):
    cells = "".join(cell(f"{'ABCDEFGH'[i]}{number}", v) for i, v in enumerate(values))
    return f'<row r="{reference if reference is not None else number}">{cells}</row>'
