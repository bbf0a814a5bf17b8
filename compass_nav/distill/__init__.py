"""Distillation of the specialists into one generalist (COMPASS stage 3, done better).

The generalist is the frozen IL base plus one residual head that reads the embodiment
descriptor as physical numbers (not a one-hot slot), so it can be asked to drive a body it
never trained on. Modules: :mod:`.config` (:class:`DistillConfig`), :mod:`.algorithm` (the
head's optimiser and the masked KL loss, the sample buffer), :mod:`.data` (samples from
recorded specialist rollouts and from on-policy DAgger rounds). The runner is
:mod:`compass_nav.distill.runner`; see docs/RL.md.
"""
