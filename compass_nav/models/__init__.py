"""Learned policy models, one folder each (``xmobility/``: the IL world-model policy).

:mod:`compass_nav.models.checkpoint_policy` is the loader :mod:`compass_nav.plugins` registers,
so that ``make_policy("runs/il_carter")`` (a run folder or a ``.pt`` checkpoint) returns a policy.
"""
