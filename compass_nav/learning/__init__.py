"""Training infrastructure every trainer shares.

:mod:`.common` (run folders, checkpoints, RNG capture, TensorBoard, schedules),
:mod:`.sequences` (window sampling over recorded episodes) and :mod:`.cli` (run-config
resolution and the trainers' common flags). The stage packages (:mod:`compass_nav.il`,
:mod:`compass_nav.rl`, :mod:`compass_nav.distill`, :mod:`compass_nav.worldmodel`) import it;
it imports no stage. Import submodules directly: this package imports nothing heavy.
"""
