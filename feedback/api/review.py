"""Partner API of the review console: an outside annotation tool pulls items and pushes answers.

A session acts as its own user. An API key acts for a reviewer it names (``reviewer``: the username of a member of
the key's tenant whose role may give feedback), so answers always belong to a person. Nobody is shown another
reviewer's answer to an item before their own is in; agreement figures need the adjudicate capability."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.base import TenantScopedViewSet
from core.api.inputs import StrictInputMixin, parse_query
from feedback import selectors
from feedback.models import CREATIVE_FIELDS, Assignment, Feedback, ReviewItem, ReviewTask
from feedback.services.review import review_next, review_submit
from governance.access import ROLE_CAPABILITIES, Capability
from governance.models import Membership


class ReviewTaskSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="creative or plan.")
    criteria = serializers.ListField(
        source="criteria_list", child=serializers.CharField(), read_only=True, help_text="Rated 1 to 5 each."
    )

    class Meta:
        model = ReviewTask
        fields = ["id", "name", "kind", "overlap", "criteria", "created_at"]
        read_only_fields = fields


class AnswerSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.get_username", read_only=True)
    thumb = serializers.CharField(read_only=True, help_text="up, down or empty.")
    preference = serializers.CharField(read_only=True, help_text="a, b, tie, both_bad or empty.")
    ratings = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    reason_tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    correction = serializers.DictField(child=serializers.CharField(), read_only=True, allow_null=True)
    guideline_version = serializers.IntegerField(source="guideline.version", read_only=True, allow_null=True)

    class Meta:
        model = Feedback
        fields = [
            "id", "item", "reviewer", "thumb", "reason_tags", "ratings", "preference", "reason", "correction",
            "guideline_version", "seconds_spent", "supersedes", "is_current", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class ReviewItemSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="single, pair or plan.")
    status = serializers.CharField(read_only=True, help_text="open, complete, conflict or resolved.")
    prompt = serializers.JSONField(read_only=True, help_text="The chat messages the item's text answers.")
    content = serializers.JSONField(
        read_only=True, help_text='single: {"fields": {headline, body, cta, disclosure}}; pair: {"a": {...}, '
        '"b": {...}}; plan: {"explanation", "allocation"}.',
    )  # fmt: skip
    adapter_versions = serializers.JSONField(read_only=True, help_text='[{"name", "version", "kind"}].')
    assignment = serializers.SerializerMethodField(help_text="The acting reviewer's assignment: pending, submitted.")
    answers = serializers.SerializerMethodField(
        help_text="Other reviewers' current answers: empty until the acting reviewer has answered (blind review)."
    )

    class Meta:
        model = ReviewItem
        fields = ["id", "task", "kind", "status", "prompt", "content", "adapter_versions", "assignment", "answers"]
        read_only_fields = fields

    def _reviewer(self):
        return self.context.get("reviewer")

    def get_assignment(self, item) -> str | None:
        reviewer = self._reviewer()
        if reviewer is None:
            return None
        return Assignment.objects.filter(item=item, reviewer=reviewer).values_list("status", flat=True).first()

    def get_answers(self, item) -> list[dict]:
        reviewer = self._reviewer()
        if reviewer is None:
            return []
        return AnswerSerializer(selectors.answers_visible(item=item, viewer=reviewer), many=True).data


class ReviewerInputMixin(serializers.Serializer):
    reviewer = serializers.CharField(
        required=False, max_length=150, help_text="API keys: the username of the reviewer this answer is from."
    )


class ReviewItemQuerySerializer(serializers.Serializer):
    task = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    reviewer = serializers.CharField(required=False, max_length=150)


class NextInputSerializer(StrictInputMixin, ReviewerInputMixin):
    pass


class FeedbackInputSerializer(StrictInputMixin, ReviewerInputMixin):
    thumb = serializers.ChoiceField(choices=Feedback.Thumb.choices, required=False, allow_blank=True)
    reason_tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=10)
    ratings = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=5), required=False, help_text="criterion -> 1..5"
    )
    preference = serializers.ChoiceField(choices=Feedback.Preference.choices, required=False, allow_blank=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    correction = serializers.DictField(
        child=serializers.CharField(max_length=2000, allow_blank=True), required=False, allow_null=True,
        help_text=f"A better completion of the same prompt: {{{', '.join(CREATIVE_FIELDS)}}}.",
    )  # fmt: skip
    seconds_spent = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=86399)


def _acting_reviewer(view, reviewer_name: str | None):
    """The person an answer is from: the session's user, or the member an API key names."""
    actor = view.actor()
    if actor["user"] is not None:
        if reviewer_name and reviewer_name != actor["user"].get_username():
            raise exceptions.ValidationError({"reviewer": ["A session answers as its own user; leave it out."]})
        return actor["user"]
    if not reviewer_name:
        return None
    membership = (
        Membership.objects.filter(tenant=view.tenant, user__username=reviewer_name).select_related("user").first()
    )
    if membership is None or Capability.GIVE_FEEDBACK not in ROLE_CAPABILITIES.get(membership.role, frozenset()):
        raise exceptions.ValidationError({"reviewer": [f"No reviewer {reviewer_name!r} in this tenant."]})
    return membership.user


class ReviewTaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """The tenant's review tasks. POST ``next`` hands the acting reviewer the next item of a task."""

    serializer_class = ReviewTaskSerializer
    read_capability = Capability.GIVE_FEEDBACK
    write_capability = Capability.GIVE_FEEDBACK

    def get_tenant_queryset(self, *, tenant):
        return selectors.review_task_list(tenant=tenant)

    @extend_schema(
        request=NextInputSerializer,
        responses={200: ReviewItemSerializer, 204: OpenApiResponse(description="Nothing left for this reviewer.")},
        description="The acting reviewer's pending item in this task, or a newly assigned one (the oldest open item "
        "they have not had, with fewer than the task's overlap of reviewers). 204 when there is none.",
    )
    @action(detail=True, methods=["post"])
    def next(self, request, pk=None):
        task = self.get_object()
        data = self.validated_input(NextInputSerializer)
        reviewer = _acting_reviewer(self, data.get("reviewer"))
        if reviewer is None:
            raise exceptions.ValidationError({"reviewer": ["An API key must name the reviewer it acts for."]})
        assignment = review_next(task=task, reviewer=reviewer)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        context = {**self.get_serializer_context(), "reviewer": reviewer}
        return Response(ReviewItemSerializer(assignment.item, context=context).data)


class ReviewItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Review items. A session lists the items assigned to its user; an API key lists those of ``?reviewer=``, or
    every item of the tenant when it names nobody. Other reviewers' answers show only once the acting reviewer
    has answered."""

    serializer_class = ReviewItemSerializer
    read_capability = Capability.GIVE_FEEDBACK
    write_capability = Capability.GIVE_FEEDBACK

    def _query(self) -> dict:
        if not hasattr(self, "_parsed_query"):
            self._parsed_query = parse_query(ReviewItemQuerySerializer, self.request)
        return self._parsed_query

    def _reviewer(self):
        if not hasattr(self, "_acting"):
            name = self._query().get("reviewer") if self.request.method == "GET" else None
            self._acting = _acting_reviewer(self, name)
        return self._acting

    def get_tenant_queryset(self, *, tenant):
        items = ReviewItem.objects.filter(tenant=tenant).order_by("id")
        if getattr(self, "action", None) == "list":
            query = self._query()
            reviewer = self._reviewer()
            if reviewer is not None:
                items = items.filter(assignments__reviewer=reviewer)
            if query.get("task"):
                items = items.filter(task_id=query["task"])
        return items

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if hasattr(self, "tenant_access"):
            context["reviewer"] = self._reviewer()
        return context

    @extend_schema(parameters=[ReviewItemQuerySerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=[OpenApiParameter("reviewer", str, description="API keys: whose view of the item.")],
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=FeedbackInputSerializer,
        responses={201: AnswerSerializer},
        description="The acting reviewer's answer to an item assigned to them. A second answer supersedes the "
        "first (only the current one counts). 403 when the item is not assigned to the reviewer; 400 names the "
        "field of a bad answer.",
    )
    @action(detail=True, methods=["post"])
    def feedback(self, request, pk=None):
        item = self.get_object()
        data = self.validated_input(FeedbackInputSerializer)
        reviewer = _acting_reviewer(self, data.pop("reviewer", None))
        if reviewer is None:
            raise exceptions.ValidationError({"reviewer": ["An API key must name the reviewer it acts for."]})
        answer = review_submit(item=item, reviewer=reviewer, **data)
        return Response(AnswerSerializer(answer).data, status=status.HTTP_201_CREATED)


class AgreementSerializer(serializers.Serializer):
    task = serializers.IntegerField()
    alpha = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text="Krippendorff's alpha per question (thumb, preference, ratings.<criterion>); null: undefined.",
    )
    items = serializers.DictField(child=serializers.IntegerField(), help_text="Items with two or more answers.")
    pairs = serializers.ListField(
        child=serializers.DictField(), help_text='[{"reviewers": [a, b], "items": n, "kappa": {question: k}}]'
    )
    reviewers = serializers.ListField(
        child=serializers.DictField(),
        help_text='[{"reviewer", "assigned", "submitted", "gold_answered", "gold_accuracy", "median_seconds"}]',
    )


class ReviewAgreementViewSet(mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Agreement of a review task (by the task's id): Krippendorff's alpha per question, Cohen's kappa per reviewer
    pair, and each reviewer's progress, gold accuracy and speed. Needs the adjudicate capability."""

    serializer_class = AgreementSerializer
    read_capability = Capability.ADJUDICATE
    write_capability = Capability.ADJUDICATE

    def get_tenant_queryset(self, *, tenant):
        return selectors.review_task_list(tenant=tenant)

    def retrieve(self, request, *args, **kwargs):
        task = self.get_object()
        agreement = selectors.task_agreement(task=task)
        reviewers = [
            {
                "reviewer": q.username,
                "assigned": q.assigned,
                "submitted": q.submitted,
                "gold_answered": q.gold_answered,
                "gold_accuracy": q.gold_accuracy,
                "median_seconds": q.median_seconds,
            }
            for q in selectors.reviewer_quality_list(task=task)
        ]
        pairs = [{**p, "reviewers": list(p["reviewers"])} for p in agreement.pairs]
        body = {"task": task.pk, "alpha": agreement.alpha, "items": agreement.units, "pairs": pairs,
                "reviewers": reviewers}  # fmt: skip
        return Response(AgreementSerializer(body).data)


__all__ = ["ReviewAgreementViewSet", "ReviewItemViewSet", "ReviewTaskViewSet"]
