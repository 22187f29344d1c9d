"""The clean-room gateway: tenant-scoped, API-key authenticated, aggregate answers with differential privacy."""

from __future__ import annotations

import re
import time

from django.conf import settings
from django.core.cache import cache
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.base import TenantScopedViewSet
from core.api.inputs import StrictInputMixin
from governance.clean_rooms import CleanRoomRefused
from governance.models import CleanRoomDataset
from optimizer.services.cleanroom import clean_room_budget, gateway_query

FAULT_HEADER = "X-Cleanroom-Fault"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"^[\w.:-]{8,100}$")
_FAULT = re.compile(r"^(?P<id>[\w-]{1,64});(?P<kind>status|sleep|late)=(?P<value>[\d.]+);times=(?P<times>\d{1,3})$")


class CleanRoomDatasetSerializer(serializers.ModelSerializer):
    budget = serializers.SerializerMethodField()

    class Meta:
        model = CleanRoomDataset
        fields = ["slug", "name", "retailer_code", "rules", "epsilon_per_query", "budget"]

    def get_budget(self, obj) -> dict:
        return clean_room_budget(dataset=obj)


class CleanRoomQuerySerializer(StrictInputMixin, serializers.Serializer):
    sql = serializers.CharField(max_length=10_000, help_text="One SELECT the dataset's rules allow.")
    epsilon = serializers.FloatField(
        required=False, min_value=0.001, max_value=10.0, help_text="Privacy budget to spend (default: the dataset's)."
    )


class CleanRoomViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = CleanRoomDatasetSerializer
    lookup_field = "slug"

    def get_tenant_queryset(self, *, tenant):
        return CleanRoomDataset.objects.filter(tenant=tenant).order_by("slug")

    @extend_schema(
        request=CleanRoomQuerySerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="8-100 letters, digits, '.', ':', '_' or '-', new for each query (a UUID): a retry with "
                "the same key gets the first answer again (`replayed`) and spends no more of the privacy budget.",
            )
        ],
        responses={
            200: inline_serializer(
                "CleanRoomAnswer",
                {
                    "columns": serializers.ListField(child=serializers.CharField()),
                    "rows": serializers.ListField(child=serializers.DictField()),
                    "suppressed_rows": serializers.DictField(child=serializers.IntegerField()),
                    "differential_privacy": serializers.BooleanField(),
                    "noise": serializers.DictField(),
                    "epsilon_spent": serializers.FloatField(),
                    "epsilon_remaining": serializers.FloatField(),
                    "replayed": serializers.BooleanField(
                        help_text="A retry of a request already answered (same Idempotency-Key): the first answer, "
                        "its epsilon spent once."
                    ),
                },
            )
        },
    )
    @action(detail=True, methods=["post"])
    def query(self, request, slug=None):
        """Run one aggregate query; refused queries answer 400 (403 once the privacy budget is spent) and name the
        rule they broke in ``error.rule``."""
        dataset = self.get_object()  # another tenant's dataset does not exist (404), whatever the body
        fault, late_s = _injected_fault(request)
        if fault is not None:
            return fault
        data = self.validated_input(CleanRoomQuerySerializer)
        request_key = request.headers.get(IDEMPOTENCY_HEADER, "")
        if request_key and not _IDEMPOTENCY_KEY.match(request_key):
            body = {
                "status": 400,
                "code": "invalid",
                "field": IDEMPOTENCY_HEADER,
                "message": f"The {IDEMPOTENCY_HEADER} header is 8 to 100 letters, digits, '.', ':', '_' or '-' "
                "(a UUID will do).",
            }
            return Response({"error": body}, status=status.HTTP_400_BAD_REQUEST)
        try:
            answer = gateway_query(
                dataset=dataset, sql=data["sql"], epsilon=data.get("epsilon"), request_key=request_key, **self.actor()
            )
        except CleanRoomRefused as exc:
            code = status.HTTP_403_FORBIDDEN if exc.rule == "privacy_budget" else status.HTTP_400_BAD_REQUEST
            body = {
                "status": code,
                "code": "refused",
                "rule": exc.rule,
                "message": f"Refused by the clean-room rule {exc.rule}: {exc.message}",
            }
            return Response({"error": body}, status=code)
        if late_s:
            time.sleep(late_s)  # answered and spent; the answer arrives after the client stopped waiting
        return Response(answer.as_dict())


def _injected_fault(request) -> tuple[Response | None, float]:
    """Test-only (settings.CLEANROOM_FAULT_INJECTION): ``X-Cleanroom-Fault: <id>;status=503;times=2`` answers 503 to
    the first two requests carrying that id, ``<id>;sleep=1.5;times=2`` sleeps 1.5 s before answering 504, and
    ``<id>;late=1.5;times=1`` answers the query for real (spending its epsilon) but sleeps 1.5 s before sending it, so
    the client's retries are tested against the real gateway over HTTP."""
    header = request.headers.get(FAULT_HEADER)
    if not header or not settings.CLEANROOM_FAULT_INJECTION:
        return None, 0.0
    match = _FAULT.match(header)
    if match is None:
        return None, 0.0
    key = f"cleanroom-fault:{match['id']}"
    cache.add(key, 0, timeout=600)
    if cache.incr(key) > int(match["times"]):
        return None, 0.0
    if match["kind"] == "late":
        return None, min(float(match["value"]), 30.0)
    if match["kind"] == "sleep":
        time.sleep(min(float(match["value"]), 30.0))
        code = status.HTTP_504_GATEWAY_TIMEOUT
    else:
        code = int(float(match["value"]))
    body = {"status": code, "code": "injected_fault", "message": "A fault injected for a test."}
    return Response({"error": body}, status=code), 0.0
