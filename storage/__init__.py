"""SQLite storage: the only package that speaks SQL.  Every query is parameterized."""

from storage.db import Database
from storage.jobs import ACTIVE_STATUSES, TERMINAL_STATUSES, Job, JobStatus, JobStore

__all__ = ["ACTIVE_STATUSES", "TERMINAL_STATUSES", "Database", "Job", "JobStatus", "JobStore"]
