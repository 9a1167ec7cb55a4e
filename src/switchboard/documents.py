"""PDF text for models that take no PDFs. Pure: bytes in, text out."""

from __future__ import annotations

import base64
import binascii
import io
import logging

# pypdf logs recoverable oddities of real-world PDFs as warnings; they are not ours to report.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def pdf_text(data_b64: str) -> str:
    # Imported on first use: 7 MiB that a gateway whose clients send no PDFs never needs.
    import pypdf
    from pypdf.errors import PyPdfError

    try:
        raw = base64.b64decode(data_b64, validate=False)
    except (binascii.Error, ValueError):
        raise ValueError("the PDF's base64 data is not valid") from None
    try:
        reader = pypdf.PdfReader(io.BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"the PDF could not be read ({type(exc).__name__})") from None
    return "\n\n".join(f"[page {i}]\n{text.strip()}" for i, text in enumerate(pages, 1))
