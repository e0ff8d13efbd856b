"""Importing members from a CSV or Excel file.

Every row is checked (national ID, names, mobile, e-mail, status, date; duplicates inside the
file and against the database) before anything is written. By default a file with any bad row
imports nothing and reports every bad row with its line and reason; with ``skip_bad`` the good
rows are imported and the bad ones reported. Either way it is one transaction.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from workflows.members import clean_member_fields
from workflows.models import Member

#: Column headers understood, in English and Arabic.
HEADERS = {
    "national_id": "national_id", "رقم الهوية": "national_id", "الهوية": "national_id", "السجل المدني": "national_id",
    "name_ar": "name_ar", "الاسم": "name_ar", "الاسم بالعربية": "name_ar",
    "name_en": "name_en", "الاسم بالإنجليزية": "name_en",
    "mobile": "mobile", "الجوال": "mobile", "رقم الجوال": "mobile", "mobile_no": "mobile", "phone": "mobile",
    "email": "email", "e-mail": "email", "البريد الإلكتروني": "email", "البريد": "email",
    "membership_no": "membership_no", "رقم العضوية": "membership_no",
    "status": "status", "الحالة": "status",
    "joined_on": "joined_on", "تاريخ الانضمام": "joined_on",
    "language": "language", "اللغة": "language",
}


@dataclass
class ImportReport:
    """What an import did."""

    rows: int = 0
    imported: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON the CLI prints."""
        return {"rows": self.rows, "imported": self.imported, "rejected": self.rejected}


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a .csv (UTF-8, a BOM allowed) or .xlsx file; line 1 is the header.

    Raises:
        InvalidInput: unknown file type, unreadable file, or no usable header.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{path.name} is not UTF-8 text; save it as 'CSV UTF-8'") from None
        table: list[list[str]] = list(csv.reader(io.StringIO(text)))
    elif suffix == ".xlsx":
        table = _xlsx_rows(path)
    else:
        raise InvalidInput(f"{path.name}: give a .csv or .xlsx file")
    if not table:
        raise InvalidInput(f"{path.name} is empty")
    header = [HEADERS.get(str(cell or "").strip(), HEADERS.get(str(cell or "").strip().lower())) for cell in table[0]]
    if "national_id" not in header or "name_ar" not in header:
        known = ", ".join(sorted({v for v in HEADERS.values()}))
        raise InvalidInput(f"{path.name}: the first line must name the columns, with at least national_id and "
                           f"name_ar (known: {known}, or their Arabic names)")
    unknown = [str(cell).strip() for cell, name in zip(table[0], header, strict=True)
               if name is None and str(cell or "").strip()]
    if unknown:
        raise InvalidInput(f"{path.name}: unknown columns {unknown}; rename them or remove them so no data is lost "
                           f"(known: {', '.join(sorted(set(HEADERS.values())))}, or their Arabic names)")
    for number, cells in enumerate(table[1:], start=2):
        if not any(str(c or "").strip() for c in cells):
            continue
        yield number, {name: str(cells[i]).strip() for i, name in enumerate(header)
                       if name and i < len(cells) and cells[i] is not None and str(cells[i]).strip()}


def _xlsx_rows(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (OSError, InvalidFileException, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise InvalidInput(f"cannot read {path.name} as an Excel workbook: {exc}") from None
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append(["" if v is None else (v.isoformat()[:10] if hasattr(v, "isoformat") else str(v)) for v in row])
        return rows
    finally:
        workbook.close()


def check_rows(
    session: Session, path: Path, progress: Callable[[int], None] | None = None
) -> tuple[ImportReport, list[dict[str, Any]]]:
    """Check every row of ``path``: the report (bad rows, with line and reason) and the good rows.

    Raises:
        InvalidInput: the file cannot be read at all.
    """
    report = ImportReport()
    known_ids = set(session.scalars(select(Member.national_id)))
    known_numbers = {n for n in session.scalars(select(Member.membership_no)) if n}
    seen_ids: dict[str, int] = {}
    seen_numbers: dict[str, int] = {}
    good: list[dict[str, Any]] = []
    for line, row in read_rows(path):
        report.rows += 1
        if progress:
            progress(1)
        try:
            clean = clean_member_fields(row)
        except InvalidInput as exc:
            report.rejected.append({"line": line, "reason": exc.message})
            continue
        problems = [f"{name} is required" for name in ("national_id", "name_ar") if name not in clean]
        national_id = clean.get("national_id")
        if national_id in known_ids:
            problems.append(f"national_id {national_id} is already a member")
        elif national_id in seen_ids:
            problems.append(f"national_id {national_id} is also on line {seen_ids[national_id]}")
        number = clean.get("membership_no")
        if number and number in known_numbers:
            problems.append(f"membership_no {number} is already used")
        elif number and number in seen_numbers:
            problems.append(f"membership_no {number} is also on line {seen_numbers[number]}")
        if problems:
            report.rejected.append({"line": line, "reason": "; ".join(problems)})
            continue
        seen_ids[national_id] = line
        if number:
            seen_numbers[number] = line
        good.append(clean)
    return report, good
