"""Beanie documents and the database connection."""

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

DOCUMENT_MODELS = [Store, Job, JobImage]

__all__ = [
    "DOCUMENT_MODELS",
    "ImageStatus",
    "Job",
    "JobImage",
    "JobPriority",
    "JobStatus",
    "Progress",
    "Store",
    "StoreError",
    "Visit",
]
