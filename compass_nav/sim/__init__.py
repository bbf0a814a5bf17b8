"""The embedded CPU simulator: scenes, embodiments, renderer, dynamics, batched env.

Entry points: :class:`compass_nav.sim.env.NavVectorEnv` (the gymnasium ``VectorEnv``),
:class:`compass_nav.sim.config.SimConfig`, :func:`compass_nav.contract.body.get_embodiment`,
:func:`compass_nav.sim.scenes.generate_scene`.
"""
