"""Guidelines edited in the admin: every save is a new version, the old one is never changed."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from feedback.models import Guideline
from feedback.tests.review_support import review_fixture  # noqa: F401  (the review fixture)


def test_saving_a_guideline_in_the_admin_writes_a_new_version(review, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-123")
    client = Client()
    client.force_login(root)
    v1 = review["guideline"]
    response = client.post(reverse("admin:feedback_guideline_change", args=[v1.pk]), {"text": "Be strict on claims."})
    assert response.status_code == 302
    v1.refresh_from_db()
    assert v1.text == "Rate what a shopper would think." and v1.version == 1
    v2 = Guideline.objects.get(task=review["task"], version=2)
    assert v2.text == "Be strict on claims." and v2.created_by == root
    response = client.post(reverse("admin:feedback_guideline_add"), {"task": review["task"].pk, "text": "Third."})
    assert response.status_code == 302
    assert list(review["task"].guidelines.values_list("version", flat=True)) == [3, 2, 1]
