import os
from pathlib import Path

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rmn_site.settings")

app = Celery("rmn_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _ensure_filesystem_broker_folders() -> None:
    # The folder broker (the embedded default) needs its folders before the first message.
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = app.conf.broker_transport_options.get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
    backend = app.conf.result_backend or ""
    if backend.startswith("file://"):
        Path(backend.removeprefix("file://")).mkdir(parents=True, exist_ok=True)


app.on_after_configure.connect(lambda sender, **kwargs: _ensure_filesystem_broker_folders(), weak=False)


def _redact_worker_logs(logger=None, **kwargs) -> None:
    # A worker replaces the root logger's handlers with its own: they get the PII filter that settings.LOGGING gives
    # every handler of the web processes.
    from governance.pii.logging import RedactingFilter

    for handler in getattr(logger, "handlers", []):
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


signals.after_setup_logger.connect(_redact_worker_logs, weak=False)
signals.after_setup_task_logger.connect(_redact_worker_logs, weak=False)


def _preload_adapters() -> None:
    # GPU workers set ML_PRELOAD_ADAPTERS=1: active adapters are loaded once at start-up, not by the first request.
    from django.conf import settings

    if getattr(settings, "ML_PRELOAD_ADAPTERS", False):
        from ml.inference import preload_active_adapters

        preload_active_adapters()


def _preload_in_pool_process(**kwargs) -> None:
    _preload_adapters()  # prefork: each child that runs tasks loads its own (torch state is not shared across fork)


def _preload_in_worker(sender=None, **kwargs) -> None:
    pool = getattr(sender, "pool", None)
    if pool is None or "prefork" not in type(pool).__module__:
        _preload_adapters()  # solo and thread pools run tasks in this process


signals.worker_process_init.connect(_preload_in_pool_process, weak=False)
signals.worker_ready.connect(_preload_in_worker, weak=False)
