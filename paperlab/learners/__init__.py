"""Learners: one per kind of training (classification, handwriting, character LM, VQA, ...)."""

from paperlab.engine.learner import LEARNERS, Learner, register_learner

__all__ = ["LEARNERS", "Learner", "register_learner"]

from paperlab.learners import (  # noqa: E402, F401
    char_lm,
    classifier,
    handwriting,
    handwriting_recognition,
    matching,
    scene_encoder,
    vqa,
)
