"""Celery: the broker (its file-system transport, no server, unless ``CELERY_BROKER_URL`` names
Redis), the queues, how tasks are acknowledged, and beat's schedule."""

from __future__ import annotations

from datetime import timedelta

from gokart.config import knob
from gokart.config.web import VAR_DIR

CELERY_BROKER_URL = knob(
    "CELERY_BROKER_URL",
    "filesystem://",
    "the broker, e.g. redis://host:6379/0 (default: the file-system transport, no server)",
)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object]
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        # The transport polls its folder: every second by default, a message a second.
        "polling_interval": 0.1,
    }
else:
    # Long waits live in the database (next attempt times), so no task is ever scheduled
    # further ahead than this; an unacknowledged task is redelivered after it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = knob(
    "CELERY_TASK_DEFAULT_QUEUE", "gokart", "queue name (tests use their own)"
)
# Bulk import tasks (validation, apply, their periodic checks) go to this queue when it is set,
# so that a worker of their own runs them apart from callback delivery (see the README).
IMPORT_TASK_QUEUE = knob(
    "IMPORT_TASK_QUEUE",
    "",
    "queue of the bulk import tasks, for a worker of their own (empty: the default queue)",
)
CELERY_TASK_ALWAYS_EAGER = knob(
    "CELERY_TASK_ALWAYS_EAGER", False, "1 runs tasks in the calling process (never in production)"
)
CELERY_TASK_ROUTES = ("gokart.celery.task_route",)
CELERY_TASK_ACKS_LATE = True
# A request that commits a status change publishes one dispatch message after commit. When the
# broker is down, give up quickly: the outbox row is committed and the sweep sends it later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True

TALLY_COMPACT_SECONDS = knob(
    "TALLY_COMPACT_SECONDS", 300.0, "how often beat folds the conversion tally's delta rows"
)
CALLBACK_SWEEP_SECONDS = knob(
    "CALLBACK_SWEEP_SECONDS",
    30.0,
    "how often beat sweeps the outbox for callbacks no task picked up",
)
CELERY_BEAT_SCHEDULE = {
    "promote-pending-conversions": {
        "task": "conversions.tasks.conversions_pending_promote",
        "schedule": timedelta(seconds=60),
    },
    # Fail the bulk imports whose worker died mid-apply (retry button), restart validations.
    "import-jobs-fail-stale": {
        "task": "conversions.imports.tasks.import_jobs_fail_stale_task",
        "schedule": timedelta(minutes=2),
    },
    # The overview's tally gains a row per postback: fold them (conversions.tally).
    "compact-conversion-tallies": {
        "task": "conversions.tasks.conversion_tallies_compact",
        "schedule": timedelta(seconds=TALLY_COMPACT_SECONDS),
    },
    "import-jobs-expire-unconfirmed": {
        "task": "conversions.imports.tasks.import_jobs_expire_unconfirmed_task",
        "schedule": timedelta(hours=1),
    },
    "sweep-callback-deliveries": {
        "task": "callbacks.tasks.callback_deliveries_sweep",
        "schedule": timedelta(seconds=CALLBACK_SWEEP_SECONDS),
    },
    # The Management API's Idempotency-Keys past API_IDEMPOTENCY_HOURS, and each key's request
    # log beyond API_REQUEST_LOG_PER_KEY (api.tasks).
    "purge-idempotent-requests": {
        "task": "api.tasks.idempotent_requests_purge",
        "schedule": timedelta(hours=1),
    },
    "trim-api-request-logs": {
        "task": "api.tasks.api_requests_trim_task",
        "schedule": timedelta(minutes=5),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
