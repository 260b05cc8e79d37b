"""Schedules (DESIGN §10): cron and ``every`` slots that fire exactly once each.

``calendar`` (slot math), ``spec`` (the compiled schedule), ``plan`` (which slots a
pass claims), ``firing`` (one atomic claim through the driver), ``scheduler`` (the
loop), ``info`` (``schedule list``), ``checks`` (what freeze refuses). Import
:class:`runa_runner.schedules.scheduler.Scheduler` from its module: this package
stays import-free so the registry can use ``spec`` without a cycle.
"""
