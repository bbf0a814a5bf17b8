"""Offline policy evaluation with an action-conditioned video world model (issue 7).

Flow (one module each)::

    pool.py       record ground truth for a pool of graded policies + training rollouts
    rollouts.py   the recorded-episode container (paired episodes, start plans)
    model.py      the world model (frames -> latent -> action-modulated GRU -> frames),
                  its contact-hazard judge and the inverse-dynamics checker
    train.py      multi-step latent-rollout training with scheduled sampling
    kinematics.py imagined speed / goal / route from the body's actuator model
    imagine.py    closed-loop imagined episodes (the policy acts on predicted frames)
    metrics.py    pure metrics: Pearson/Spearman/Kendall, MMRV, pairwise accuracy,
                  bootstrap intervals, PSNR, SSIM
    evaluate.py   predicted vs real success across the pool, video quality, judge accuracy
    report.py     JSON, markdown, plots, GIFs
    cli.py        ``compass-nav worldmodel collect|train|evaluate|run``

Design, choices and measured figures: docs/WORLDMODEL.md. Submodules import torch; this
package file imports nothing heavy.
"""
