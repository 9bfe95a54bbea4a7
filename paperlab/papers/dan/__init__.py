"""Nam et al. 2017: Hyeonseob Nam, Jung-Woo Ha and Jeonghee Kim, "Dual Attention Networks for
Multimodal Reasoning and Matching", arXiv:1611.00471 (CVPR 2017). Builds on paperlab.papers.vqa.

    dual_attention  Sec. 3.1-3.2: regions, BiLSTM words, attention; Sec. 3.3: r-DAN;
                    Sec. 3.4: m-DAN
    matching        Sec. 3.4: the ranking loss; Sec. 4.2: Recall@K, the matching learner
    rdan_learner    Sec. 4.1: r-DAN on VQA (the VQA learner, plus attention)
    captions        Sec. 4.2: Flickr30K and COCO captions
    attention       Figs. 3-5: where the attention looks
    bow_matching    the bag-of-words image-text matching baseline

Full table: docs/papers/dan.md."""

# The modules that register this paper's names, by registry kind (paperlab/registry.py).
REGISTRY_MODULES = {
    "model": ["dual_attention", "bow_matching"],
    "dataset": ["captions"],
    "learner": ["matching", "rdan_learner"],
    "reproduction": ["reproduction"],
}
