"""The necessity letter as a PDF, and its DocumentReference on the FHIR server.

The document is the one the medical-necessity card's "save" suggestion
creates (same resource, same markdown text), with the PDF added as a second
rendition of the same content.
"""

from __future__ import annotations

import base64
import copy
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from service.fhir.access import FhirAccess
from service.web.course_review.errors import SaveFailed
from service.web.course_review.model import CourseReview

if TYPE_CHECKING:
    from fpdf import FPDF

_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")  # Debian's fonts-dejavu-core (scripts/bootstrap.sh)
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR id syntax


def looks_like_id(value: str) -> bool:
    return bool(_ID.fullmatch(value))


def _fonts(pdf: FPDF) -> str:
    """DejaVu (Unicode: the letter has dashes, m², µL) where installed, else core Helvetica."""
    if (_FONT_DIR / "DejaVuSans.ttf").exists():
        pdf.add_font("DejaVu", "", str(_FONT_DIR / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(_FONT_DIR / "DejaVuSans-Bold.ttf"))
        pdf.add_font("DejaVu", "I", str(_FONT_DIR / "DejaVuSans-Oblique.ttf"))
        pdf.add_font("DejaVu", "BI", str(_FONT_DIR / "DejaVuSans-BoldOblique.ttf"))
        return "DejaVu"
    return "Helvetica"


def signature_line(clinician: str | None) -> str:
    """The signed-in clinician's name (a verified id_token's fhirUser), else a blank to fill by hand."""
    return f"Clinician: {clinician or '______________________________'}   Signature: ____________________"


def letter_pdf(review: CourseReview, clinician: str | None = None) -> bytes:
    """The letter on A4: heading, patient, date, the card's assessment, signature line."""
    # fpdf2 (with fontTools and Pillow) is about 45 MB resident: imported by the first letter a
    # worker makes, not by every worker that only answers hooks.
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, margin=18)
    family = _fonts(pdf)
    signature = signature_line(clinician)
    if family == "Helvetica":
        html = review.letter.html.encode("latin-1", "replace").decode("latin-1")
        signature = signature.encode("latin-1", "replace").decode("latin-1")
    else:
        html = str(review.letter.html)
    pdf.add_page()
    pdf.set_font(family, "B", 15)
    pdf.cell(0, 9, "Letter of medical necessity: rituximab", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 10)
    p = review.patient
    pdf.cell(0, 6, f"Patient: {p.name}, born {p.birth_date} ({p.gender}), id {p.id}", new_x="LMARGIN", new_y="NEXT")
    if review.order:
        pdf.cell(0, 6, f"Order under review: {review.order}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"Date: {review.today}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(family, "", 9.5)
    pdf.write_html(html, font_family=family, table_line_separators=True)
    pdf.ln(10)
    pdf.set_font(family, "", 10)
    pdf.cell(0, 6, signature, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def with_pdf(document: dict[str, Any], pdf: bytes) -> dict[str, Any]:
    """The card's DocumentReference with the PDF added as a second attachment."""
    doc = copy.deepcopy(document)
    doc.setdefault("content", []).append({"attachment": {
        "contentType": "application/pdf",
        "title": "Rituximab medical necessity assessment (PDF)",
        "data": base64.b64encode(pdf).decode("ascii"),
    }})
    return doc


def create(session: requests.Session, access: FhirAccess, resource: dict[str, Any]) -> str:
    """POST the resource; the new id, or SaveFailed (status only: no token, no content)."""
    url = access.base_url.rstrip("/") + "/DocumentReference"
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if access.access_token:
        headers["Authorization"] = f"Bearer {access.access_token}"
    try:
        resp = session.post(url, json=resource, headers=headers, timeout=10, allow_redirects=False)
    except requests.RequestException as exc:
        raise SaveFailed(f"The FHIR server could not be reached ({type(exc).__name__}).") from exc
    if resp.status_code not in (200, 201):
        raise SaveFailed(f"The FHIR server answered HTTP {resp.status_code}.")
    created_id = None
    try:
        body = resp.json()
        created_id = body.get("id") if isinstance(body, dict) else None
    except ValueError:
        pass
    if not created_id and (location := resp.headers.get("Location")):
        parts = location.split("/_history/")[0].rstrip("/").split("/")
        created_id = parts[-1]
    if not isinstance(created_id, str) or not looks_like_id(created_id):
        raise SaveFailed("The FHIR server did not say which document it created.")
    return created_id
