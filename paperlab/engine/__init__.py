"""The training engine every paper reuses: Trainer, Learner, checkpoints, seeding, distributed."""
