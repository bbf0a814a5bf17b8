"""Trainers: imitation learning of the world-model policy (:mod:`.il`) and shared pieces.

:mod:`.common` (run folders, checkpoints, RNG capture, TensorBoard, schedules) and
:mod:`.sequences` (window sampling over episodes) are meant for every trainer; :mod:`.dagger`
collects teacher-labelled on-policy data; :mod:`.cli` adds ``compass-nav train``.
Import submodules directly: this package imports nothing heavy.
"""
