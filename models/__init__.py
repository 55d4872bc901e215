"""Beanie documents and the database connection."""

from models.idempotency import SubmissionKey
from models.jobs import (
    ImageStatus,
    Job,
    JobImage,
    JobPriority,
    JobStatus,
    Progress,
    StoreError,
    Visit,
)
from models.stores import Store
from models.tokens import ApiToken, Role

DOCUMENT_MODELS = [Store, Job, JobImage, ApiToken, SubmissionKey]

__all__ = [
    "DOCUMENT_MODELS",
    "ApiToken",
    "ImageStatus",
    "Job",
    "JobImage",
    "JobPriority",
    "JobStatus",
    "Progress",
    "Role",
    "Store",
    "StoreError",
    "SubmissionKey",
    "Visit",
]
