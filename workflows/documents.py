"""Files attached to checklist items: type and size limits, stored outside the database.

Only kinds whose service keeps the file (``store_file``) take one (PDPL); an ID is recorded as
verified, never stored. A file is written under ``documents.dir/<request id>/`` with a name
the server chooses; the member's original name is never used as a path.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from engine.errors import InvalidInput, NotFound, error_code
from engine.settings import config_path

if TYPE_CHECKING:
    from engine.context import CaseEngine

log = logging.getLogger(__name__)

#: The first bytes of each accepted type.
SIGNATURES = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
}

#: `InvalidInput.code` of each refused upload, for a page to put into its own words.
#: Each carries ``name`` (the file's name) and what the rule is: ``types``, ``mb`` or ``type``.
FILE_MISSING = error_code("file_missing")
FILE_NAME = error_code("file_name", "name")
FILE_TYPE = error_code("file_type", "name", "types")
FILE_SIZE = error_code("file_size", "name", "mb")
FILE_EMPTY = error_code("file_empty", "name")
FILE_CONTENT = error_code("file_content", "name", "type")
#: `InvalidInput.code` of a file sent for an item that is verified, never stored (an ID, PDPL); ``kind``.
FILE_NOT_KEPT = error_code("file_not_kept", "kind")
#: A stored document whose file is gone.
FILE_GONE = error_code("file_gone")

@dataclass
class Upload:
    """A file sent with a form: the name the sender gave it, and its content."""

    filename: str
    stream: IO[bytes]


def limits(settings: dict[str, Any]) -> tuple[Path, int, tuple[str, ...]]:
    """The upload folder, the size limit in bytes and the accepted extensions."""
    spec = settings.get("documents") or {}
    folder = Path(str(spec.get("dir") or "instance/uploads"))
    if not folder.is_absolute():
        folder = config_path().parent / folder
    types = tuple(str(t).lower() for t in (spec.get("types") or ("pdf", "jpg", "jpeg", "png")))
    return folder, int(float(spec.get("max_mb", 10)) * 1024 * 1024), types


def store_upload(engine: CaseEngine, request_id: int, kind: str, filename: str, stream: IO[bytes]) -> str:
    """Check and write an uploaded file; return the stored name (relative to the folder).

    Raises:
        InvalidInput: no file, a type not accepted, content that is not of its type, too large.
    """
    folder, max_bytes, types = limits(engine.settings)
    name = (filename or "").strip()
    if not name:
        raise InvalidInput("file: choose a file to attach", code=FILE_MISSING)
    # A browser sends the bare name; a folder in it (or a control character) comes from a tool.
    # The name is never a path here, but a file sent that way is refused, not quietly renamed.
    if any(c in name for c in "/\\") or any(ord(c) < 32 or ord(c) == 127 for c in name) or name.strip(".") == "":
        raise InvalidInput(f"file: {name!r} names a folder or holds a control character; send the file itself",
                           code=FILE_NAME, params={"name": name})
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in types:
        raise InvalidInput(f"file: {name!r} is not an accepted type ({', '.join(types)})", code=FILE_TYPE,
                           params={"name": name, "types": list(types)})
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InvalidInput(f"file: {name!r} is larger than {max_bytes // (1024 * 1024)} MB", code=FILE_SIZE,
                           params={"name": name, "mb": max_bytes // (1024 * 1024)})
    if not data:
        raise InvalidInput(f"file: {name!r} is empty", code=FILE_EMPTY, params={"name": name})
    if not any(data.startswith(sig) for sig in SIGNATURES.get(extension, (b"",))):
        raise InvalidInput(f"file: {name!r} is not a real {extension.upper()} file", code=FILE_CONTENT,
                           params={"name": name, "type": extension.upper()})
    stored = f"{int(request_id)}/{kind}-{uuid.uuid4().hex}.{extension}"
    target = folder / stored
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(target)
    return stored


def discard_upload(engine: CaseEngine, stored: str) -> None:
    """Remove a stored file: one whose record was not written, or one a newer file replaced.

    It runs after the transaction ended, so it never fails the change: a file that cannot be
    removed is logged. A name that would leave the folder is ignored (the names are the server's).
    """
    folder, _, _ = limits(engine.settings)
    path = (folder / stored).resolve()
    if folder.resolve() not in path.parents:
        return
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.error("the stored document %s could not be removed: %s", stored, exc)


def upload_path(engine: CaseEngine, stored: str) -> Path:
    """The file on disk of a stored name, refusing names that leave the folder.

    Raises:
        NotFound: the name is outside the folder or the file is gone.
    """
    folder, _, _ = limits(engine.settings)
    path = (folder / stored).resolve()
    if folder.resolve() not in path.parents or not path.is_file():
        raise NotFound("the document's file is not available", code=FILE_GONE)
    return path
