"""Learned policy models, one folder each (``xmobility/``: the IL world-model policy).

:mod:`compass_nav.models.loader` registers a loader with :mod:`compass_nav.policies` so that
``make_policy("runs/il_carter")`` (a run folder or a ``.pt`` checkpoint) returns a policy.
"""
