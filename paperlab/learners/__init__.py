"""Learners: one per kind of training (classification, handwriting, character LM, VQA, ...).

Each module registers its learner in `LEARNERS` when imported; the registry imports them at its
first lookup (paperlab/engine/learner.py)."""

from paperlab.engine.learner import LEARNERS, Learner, register_learner

__all__ = ["LEARNERS", "Learner", "register_learner"]
