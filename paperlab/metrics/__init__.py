"""Evaluation metrics that papers define precisely enough to be reproduced to the last digit
(the VQA accuracy of Antol et al. 2015, ...)."""
