"""paperlab: reproduce classic deep-learning papers with PyTorch from the command line."""

__version__ = "0.1.0"
