from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from campaigns.api import BrandViewSet, CampaignViewSet, PerformanceViewSet, RetailerViewSet, SKUViewSet
from core.api.me import MeViewSet
from feedback.api.creatives import CreativeBriefViewSet, CreativeViewSet
from feedback.api.datasets import FeedbackDatasetViewSet
from feedback.api.plans import PlanReviewViewSet
from feedback.api.review import ReviewAgreementViewSet, ReviewItemViewSet, ReviewTaskViewSet
from harmonization.api import IngestBatchViewSet
from ml.api import AdapterViewSet, GenerationViewSet, TrainingJobViewSet
from optimizer.api.bandits import BanditPolicyViewSet
from optimizer.api.cleanroom import CleanRoomViewSet
from optimizer.api.experiments import ExperimentViewSet
from optimizer.api.lift_studies import LiftStudyViewSet
from optimizer.api.plans import AllocationPlanViewSet
from optimizer.api.uplift import SkuForecastViewSet, UpliftStudyViewSet

app_name = "api"

router = SimpleRouter()
router.register("retailers", RetailerViewSet, basename="retailer")
router.register("brands", BrandViewSet, basename="brand")
router.register("skus", SKUViewSet, basename="sku")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("performance", PerformanceViewSet, basename="performance")
router.register("lift-studies", LiftStudyViewSet, basename="lift-study")
router.register("plans", AllocationPlanViewSet, basename="plan")
router.register("experiments", ExperimentViewSet, basename="experiment")
router.register("bandit-policies", BanditPolicyViewSet, basename="bandit-policy")
router.register("uplift-studies", UpliftStudyViewSet, basename="uplift-study")
router.register("sku-forecasts", SkuForecastViewSet, basename="sku-forecast")
router.register("ingest-batches", IngestBatchViewSet, basename="ingest-batch")
router.register("adapters", AdapterViewSet, basename="adapter")
router.register("training-jobs", TrainingJobViewSet, basename="training-job")
router.register("generations", GenerationViewSet, basename="generation")
router.register("creative-briefs", CreativeBriefViewSet, basename="creative-brief")
router.register("creatives", CreativeViewSet, basename="creative")
router.register("review-tasks", ReviewTaskViewSet, basename="review-task")
router.register("review-items", ReviewItemViewSet, basename="review-item")
router.register("review-agreement", ReviewAgreementViewSet, basename="review-agreement")
router.register("plan-reviews", PlanReviewViewSet, basename="plan-review")
router.register("feedback-datasets", FeedbackDatasetViewSet, basename="feedback-dataset")
router.register("clean-rooms", CleanRoomViewSet, basename="clean-room")

urlpatterns = [
    path("me/", MeViewSet.as_view({"get": "retrieve"}), name="me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    *router.urls,
]
