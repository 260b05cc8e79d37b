"""Schedules (DESIGN §10): cron and ``every`` slots that fire exactly once each.

``calendar`` (slot math), ``spec`` (the compiled schedule), ``plan`` (which slots a
pass claims), ``firing`` (one atomic claim through the driver), ``scheduler`` (the
loop; ``rr.Scheduler``), ``info`` (``schedule list``), ``checks`` (what freeze refuses).
This package imports nothing itself, so the registry can use ``spec`` without a cycle.
"""
