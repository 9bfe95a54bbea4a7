"""Antol et al. 2015: Stanislaw Antol, Aishwarya Agrawal, Jiasen Lu, Margaret Mitchell,
Dhruv Batra, C. Lawrence Zitnick and Devi Parikh, "VQA: Visual Question Answering",
arXiv:1505.00468 (ICCV 2015).

    vqa_json, data           Sec. 3: the JSON formats; the dataset on disk
    metric, normalize        Sec. 4: the official accuracy and answer normalisation
    vqa_eval                 Sec. 4: `paperlab vqa-eval`
    image_features           Sec. 5: frozen image features ("I": fc7), cached
    models                   Sec. 5: BoW Q + I, LSTM Q + I, deeper LSTM Q + norm I
    learner                  Sec. 5: training, official scoring
    baselines, vqa_baselines Sec. 6: the baselines; `paperlab vqa-baselines`
    easy_vqa, sort_of_clevr, scenes   the embedded sets (relational scenes with captions)
    scene_cnn, scene_encoder the scene encoder standing in for ImageNet CNNs
    captions_json            caption files (COCO, Flickr30k, Karpathy's splits), for DAN

Full table: docs/papers/vqa.md."""

# The modules that register this paper's names, by registry kind (paperlab/registry.py).
REGISTRY_MODULES = {
    "model": ["models", "scene_cnn"],
    "dataset": ["data", "easy_vqa", "sort_of_clevr"],
    "learner": ["learner", "scene_encoder"],
    "reproduction": ["reproduction"],
}
