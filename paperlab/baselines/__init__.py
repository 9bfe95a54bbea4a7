"""Non-learned reference methods of the papers (the VQA baselines of Antol et al. 2015, ...)."""
