"""Sample files on the imports page: a small export of a shipped layout built from the tenant's own catalog."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse

from core.errors import DomainError
from demo.samples import sample_content_type, sample_export_write, sample_filename, sample_layouts
from governance.access import TenantAccess, tenant_page
from harmonization.selectors import mapping_choices


def import_page_samples(*, access: TenantAccess) -> dict:
    """Fills the imports page's slot (demo.apps): the layouts a sample can be built for, or why not, each with the
    layout's name as the upload form shows it."""
    labels = dict(mapping_choices(tenant=access.tenant))
    samples = sample_layouts(tenant=access.tenant)
    return {"samples": [{**s, "label": labels.get(s["name"], s["name"].replace("_", " "))} for s in samples]}


@tenant_page()
def sample_download(request: HttpRequest, mapping_name: str, *, access) -> HttpResponse:
    """A small export of a shipped layout built from the current tenant's catalog and campaigns (never another
    tenant's: the tenant comes from the session, not the URL). Files are a few hundred rows: built in memory."""
    with tempfile.TemporaryDirectory(prefix="rmn-sample-") as folder:
        path = Path(folder) / "sample"
        try:
            truth = sample_export_write(tenant=access.tenant, mapping_name=mapping_name, path=path)
        except DomainError as exc:
            raise Http404(exc.message) from None
        data = path.read_bytes()
    response = HttpResponse(data, content_type=sample_content_type(mapping_name))
    response["Content-Disposition"] = f'attachment; filename="{sample_filename(mapping_name)}"'
    response["X-Sample-Rows"] = str(truth.rows)
    return response
