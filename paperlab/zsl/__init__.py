"""Zero-shot learning: NIWT (Selvaraju et al., ECCV 2018, "Choose Your Neuron") and the ALE baseline
(Akata et al., TPAMI 2016), evaluated with the generalized ZSL protocol of Xian et al. (TPAMI 2018)."""
