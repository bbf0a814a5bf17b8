"""Imitation learning of the X-Mobility-style world-model policy (COMPASS stage 1).

:mod:`.runner` holds :class:`ILConfig`, the algorithm and the runner (``train_il``);
:mod:`.dagger` collects teacher-labelled on-policy rounds in the simulator; :mod:`.cli` adds
``compass-nav il train``. Shared training infrastructure is in :mod:`compass_nav.learning`.
Import submodules directly: this package imports nothing heavy.
"""
