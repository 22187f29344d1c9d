"""Swagger UI for the partner API, served entirely from this site's static files."""

from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerView


class LocalSwaggerView(SpectacularSwaggerView):
    """The sidecar's Swagger UI, with the online validator badge turned off: Swagger UI would otherwise send the
    schema's address to validator.swagger.io, and the docs page must contact no other host."""

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        ui_settings = json.loads(response.data["settings"])
        ui_settings["validatorUrl"] = None
        response.data["settings"] = json.dumps(ui_settings, indent=2)
        return response
