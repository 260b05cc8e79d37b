"""Where a ``list_jobs`` page resumes when the previous page's last job left its state."""

from __future__ import annotations


def id_time(job_id: str) -> float:
    """When a job id was made (its first 12 hex digits are epoch ms); +inf (the first
    page) when it is not one of ours."""
    head = job_id[:12]
    if len(head) < 12 or any(c not in "0123456789abcdefABCDEF" for c in head):
        return float("inf")
    return int(head, 16) / 1000
