"""Selvaraju et al. 2018 (NIWT): Ramprasaath R. Selvaraju, Prithvijit Chattopadhyay,
Mohamed Elhoseiny, Tilak Sharma, Dhruv Batra, Devi Parikh and Stefan Lee, "Choose Your Neuron:
Incorporating Domain Knowledge through Neuron-Importance", arXiv:1808.02861 (ECCV 2018).

    pipeline, stages      Sec. 3, Fig. 2: the pipeline, stage by stage, cached
    weight_transfer       Sec. 3.2: knowledge -> importances; Sec. 3.3: -> unseen weights
    gzsl_metrics          Sec. 4: generalized ZSL, U, S, H; rank correlation
    captions              Sec. 4: caption embeddings as domain knowledge
    ale                   Sec. 4, Table 1: the ALE baseline (Akata et al. 2016)
    awa2, cub, xian_splits  Sec. 4: the datasets and Xian et al.'s proposed splits
    zsl_shapes, zsl_fashion, zsl_data  the embedded zero-shot sets
    zsl                   `paperlab zsl`

Neuron importance (Sec. 3.1) and Grad-CAM are model-agnostic: paperlab/interpret/importance.py,
paperlab/interpret/gradcam.py. Full table: docs/papers/niwt.md."""

# The modules that register this paper's names, by registry kind (paperlab/registry.py).
REGISTRY_MODULES = {
    "dataset": ["awa2", "cub", "zsl_fashion", "zsl_shapes"],
    "reproduction": ["reproduction"],
}
