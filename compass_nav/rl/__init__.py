"""Residual RL: per-embodiment specialists on top of the frozen IL base (COMPASS stage 2).

Modules (the tree follows the concepts; nothing heavy is imported here):

* :mod:`.config` -- :class:`RLConfig` (one specialist run), :class:`PPOConfig`,
  :class:`HeadConfig`; :mod:`.rewards` -- reward weights and the ``compass``/``shaped``
  presets over the simulator's reward terms.
* :mod:`.features` -- goal, speed and descriptor features (torch ops, exported).
* :mod:`.modules` -- :class:`ResidualHead` (the trained part) and :class:`ResidualPolicy`
  (frozen base + head, composition and clipping; what gets exported).
* :mod:`.base` -- loads and freezes the IL base.
* :mod:`.env` -- rsl-rl ``VecEnv`` running the base inside the simulator loop.
* :mod:`.actor`, :mod:`.ppo` -- rsl-rl model adapters and PPO wiring.
* :mod:`.artifact` -- ``specialist.pt`` / ``generalist.pt`` files; :mod:`.agent` -- them as
  :class:`~compass_nav.policies.Policy`; :mod:`.registry` -- hooks them into ``make_policy``.
* :mod:`.record` -- specialist rollouts for distillation; :mod:`.cli` -- the commands.

The training loop is :mod:`compass_nav.rl.runner`; distillation is
:mod:`compass_nav.distill` with its runner :mod:`compass_nav.distill.runner`; the one-command
chain is :mod:`compass_nav.pipeline.runner`. See docs/RL.md.
"""
