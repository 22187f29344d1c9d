"""The site's URLs and error handlers plus two routes that fail, so the tests can see what a 500 looks like."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from rmn_site.urls import handler404, handler500  # noqa: F401 - the handlers
from rmn_site.urls import urlpatterns as site_urlpatterns


class _FailingEndpoint(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("boom in an endpoint")


def _failing_page(request):
    raise RuntimeError("boom in a page")


urlpatterns = [
    path("api/v1/boom/", _FailingEndpoint.as_view()),
    path("boom/", _failing_page),
    *site_urlpatterns,
]
