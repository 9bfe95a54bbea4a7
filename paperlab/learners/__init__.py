"""Learners: one per kind of training (classification, handwriting, character LM, VQA, ...)."""

from paperlab.engine.learner import LEARNERS, Learner, register_learner

__all__ = ["LEARNERS", "Learner", "register_learner"]

from paperlab.learners import char_lm, classifier, handwriting, matching, scene_encoder, vqa  # noqa: E402, F401
