"""Image-text matching: Nam et al. 2017, Sec. 3.4 and 4.2 (m-DAN), with the same training and
scoring for the bag-of-words baseline.

* Loss (Sec. 3.4): the bidirectional max-margin ranking loss over the other pairs of the batch,
  for each matching pair (v, u):  sum_u' max(0, m - S(v, u) + S(v, u')) + sum_v' max(0, m - S(v, u) + S(v', u)),
  averaged over the batch; captions of the same image are not negatives of each other.
* Training pairs: every (image, caption) pair of the training split, shuffled.
* Scoring (Sec. 4.2): Recall@1/5/10 in both directions -- image -> text (an image's best-ranked
  true caption among all captions) and text -> image (a caption's image among all images) -- on
  folds of `matching.fold_size` images with all their captions (Flickr30K: its 1,000 test
  images; COCO: five folds of 1,000), averaged over folds. `rsum`, the sum of the six recalls,
  picks checkpoints.
* m-DAN's attention (visual: each image on its own, textual: each caption on its own) is drawn
  for a few test pairs, and on data with scene annotations the share of the visual attention
  that falls on objects rather than background is reported.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import Dataset

from paperlab.config import at_least, config_schema, to_dataclass
from paperlab.data import build_data
from paperlab.engine.learner import Learner, register_learner
from paperlab.errors import UserError
from paperlab.io.figures import plt, save_figure, training_curves_figure
from paperlab.models import MODELS, create_model
from paperlab.papers.dan.attention import draw_example, named_attention_shares
from paperlab.papers.dan.captions import CaptionData, CaptionSplit, caption_data
from paperlab.papers.dan.dual_attention import MDAN
from paperlab.papers.vqa.data import ImageSource, WordVocab
from paperlab.papers.vqa.image_features import EncoderConfig, image_features
from paperlab.papers.vqa.learner import model_inputs
from paperlab.papers.vqa.scenes import object_coverage

log = logging.getLogger(__name__)
RECALLS = (1, 5, 10)


@config_schema("matching")
@dataclass
class MatchingConfig:
    margin: float = at_least(0, default=100.0)  # Sec. 3.4: m = 100
    max_words: int = at_least(1, default=50)  # caption words kept (longer captions are cut, with a warning)
    fold_size: int = at_least(1, default=1000)  # images per retrieval fold (Sec. 4.2: 1,000 test images)
    attention_examples: int = at_least(0, default=4)  # test pairs drawn in figures/attention.png (m-DAN)


def ranking_loss(scores: torch.Tensor, margin: float, same_image: torch.Tensor) -> torch.Tensor:
    """Sec. 3.4's bidirectional max-margin loss for a batch: scores[i, j] = S(image i, text j),
    the pairs (i, i) match; same_image[i, j] marks pairs that are no negatives (same image)."""
    positive = scores.diagonal()
    negative = ~same_image
    image_to_text = ((margin - positive[:, None] + scores).clamp(min=0) * negative).sum(1)
    text_to_image = ((margin - positive[None, :] + scores).clamp(min=0) * negative).sum(0)
    return (image_to_text + text_to_image).mean()


def recall_hits(scores: torch.Tensor, caption_image: torch.Tensor, ks: Sequence[int] = RECALLS) -> dict[str, torch.Tensor]:
    """Hits at each K in both directions for one fold: scores (images, captions), caption_image
    the image row of each caption. An item's rank counts the candidates scored strictly higher."""
    n_images = scores.shape[0]
    truth = torch.zeros_like(scores, dtype=torch.bool)
    truth[caption_image, torch.arange(scores.shape[1])] = True
    best_true = scores.masked_fill(~truth, float("-inf")).max(1).values
    rank_i2t = (scores > best_true[:, None]).sum(1)
    own = scores[caption_image, torch.arange(scores.shape[1])]
    rank_t2i = (scores > own[None, :]).sum(0)
    out = {"images": torch.tensor(n_images), "captions": torch.tensor(scores.shape[1])}
    for k in ks:
        out[f"i2t_r{k}"] = (rank_i2t < k).sum()
        out[f"t2i_r{k}"] = (rank_t2i < k).sum()
    return out


class _Encoded:
    """A split's captions as word ids: flat, with per-caption starts and lengths."""

    def __init__(self, split: CaptionSplit, vocab: WordVocab, max_words: int, name: str) -> None:
        ids = [vocab.encode(c) for caps in split.captions for c in caps]
        self.caption_image = torch.tensor([i for i, caps in enumerate(split.captions) for _ in caps], dtype=torch.long)
        self.length = torch.tensor([len(t) for t in ids], dtype=torch.long)
        cut = int((self.length > max_words).sum())
        if cut:
            log.warning("%d of the %d %s captions are longer than matching.max_words=%d words: cut", cut, len(ids),
                        name, max_words)
        self.length = self.length.clamp(max=max_words)
        self.start = torch.cat([torch.zeros(1, dtype=torch.long), torch.tensor([len(t) for t in ids]).cumsum(0)])
        self.tokens = torch.tensor([w for t in ids for w in t], dtype=torch.long)

    def words(self, rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = self.length[list(rows)]
        out = torch.zeros(len(rows), max(int(lengths.max()), 1), dtype=torch.long)
        for r, (i, n) in enumerate(zip(rows, lengths.tolist(), strict=True)):
            out[r, :n] = self.tokens[self.start[i] : self.start[i] + n]
        return out, lengths


class CaptionPairs(Dataset):
    """Every (image, caption) pair of a split; batches hold image features, caption word ids and
    lengths, and each pair's image row (to tell captions of the same image apart)."""

    def __init__(self, split: CaptionSplit, features: ImageSource, vocab: WordVocab, max_words: int, name: str) -> None:
        self.split, self.features = split, features
        self.text = _Encoded(split, vocab, max_words, name)

    def __len__(self) -> int:
        return len(self.text.length)

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        rows = self.text.caption_image[list(indices)]
        words, lengths = self.text.words(indices)
        return {"image": self.features.load(self.split.image_ids[rows.numpy()]), "words": words, "lengths": lengths,
                "image_row": rows}

    @staticmethod
    def collate_fn(batch: Any) -> Any:
        return batch


class RetrievalFolds(Dataset):
    """A split cut into folds of `fold_size` images; an item is a whole fold (its images, all
    their captions, and each caption's image within the fold)."""

    def __init__(self, split: CaptionSplit, features: ImageSource, vocab: WordVocab, max_words: int, fold_size: int,
                 name: str) -> None:
        self.split, self.features, self.fold_size = split, features, fold_size
        self.text = _Encoded(split, vocab, max_words, name)

    def __len__(self) -> int:
        return math.ceil(len(self.split) / self.fold_size)

    def fold(self, k: int) -> dict[str, torch.Tensor]:
        lo, hi = k * self.fold_size, min((k + 1) * self.fold_size, len(self.split))
        captions = torch.nonzero((self.text.caption_image >= lo) & (self.text.caption_image < hi)).squeeze(1).tolist()
        words, lengths = self.text.words(captions)
        return {"image": self.features.load(self.split.image_ids[lo:hi]), "words": words, "lengths": lengths,
                "caption_image": self.text.caption_image[captions] - lo}

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, torch.Tensor]]:
        return [self.fold(k) for k in indices]

    @staticmethod
    def collate_fn(batch: Any) -> Any:
        return batch


@dataclass
class MatchingExtras:
    """What a trained matching model comes with: its caption words, the image features it reads."""

    vocab: list[str]  # WordVocab.words of the training captions
    encoder: str  # the identity of the image encoder whose features it was trained on
    data: str  # the dataset it was trained on


@register_learner("matching")
class MatchingLearner(Learner):
    """Image-text matching (m-DAN or the bag-of-words baseline): ranking loss, Recall@K both ways."""

    Extras = MatchingExtras
    monitor = "val/rsum"
    monitor_mode = "max"

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = to_dataclass(MatchingConfig, cfg.get("matching"), where="matching")
        self.data: CaptionData = caption_data(build_data(cfg.data))
        model_kw = OmegaConf.to_container(cfg.model, resolve=True)
        name = model_kw.pop("name")
        cls = MODELS.get(name)
        kind = getattr(cls, "image_input", None)
        if not hasattr(cls, "embed_text") or kind not in ("pooled", "regions"):
            raise UserError(f"model={name} is not an image-text matching model", "use model=mdan or model=bow_matching")
        encoder = to_dataclass(EncoderConfig, cfg.get("encoder"), where="encoder")
        self.pixels = {s: d.images for s, d in self.data.splits.items() if d.images.kind == "pixels"}
        self.features = image_features({s: (d.images, d.image_ids) for s, d in self.data.splits.items()}, encoder,
                                       cfg.data)
        source = self.features.pooled if kind == "pooled" else self.features.regions
        if source is None:
            raise UserError(f"model={name} reads region features, but these features are one vector per image",
                            "give (N, regions, D) features, or an encoder")
        self.image_facts = {"image_dim": int(source.shape[-1])} if kind == "pooled" else \
            {"region_dim": int(source.shape[-1]), "grid": list(self.features.grid or (1, int(source.shape[0])))}
        self.vocab = WordVocab.build([c for caps in self.data.splits["train"].captions for c in caps],
                                 int(cfg.data.get("min_word_count", 1)))
        self.model = create_model(name, **model_kw, **model_inputs(cls, vocab_size=len(self.vocab), **self.image_facts))
        max_words = self.cfg.max_words
        self.splits: dict[str, Dataset] = {"train": CaptionPairs(self.data.splits["train"], source, self.vocab, max_words,
                                                                  "train")}
        for split in ("val", "test"):
            if split in self.data.splits:
                self.splits[split] = RetrievalFolds(self.data.splits[split], source, self.vocab, max_words,
                                                    self.cfg.fold_size, split)

    def datasets(self) -> dict[str, Dataset]:
        return self.splits

    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        scores = model(batch["image"], batch["words"], batch["lengths"])
        same = batch["image_row"][:, None] == batch["image_row"][None, :]
        return ranking_loss(scores, self.cfg.margin, same), {}

    @torch.no_grad()
    def fold_scores(self, model: nn.Module, fold: dict[str, torch.Tensor], chunk: int = 1000) -> torch.Tensor:
        net = getattr(model, "module", model)
        z_v = torch.cat([net.embed_image(fold["image"][s : s + chunk])[0] for s in range(0, len(fold["image"]), chunk)])
        z_u = torch.cat([net.embed_text(fold["words"][s : s + chunk], fold["lengths"][s : s + chunk])[0]
                         for s in range(0, len(fold["words"]), chunk)])
        return z_v.float() @ z_u.float().T

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        sums: dict[str, torch.Tensor] = {}
        for fold in batch:
            for k, v in recall_hits(self.fold_scores(model, fold), fold["caption_image"]).items():
                sums[k] = sums.get(k, 0) + v
        return sums

    def summarize(self, sums: dict[str, float]) -> dict[str, float]:
        out = {}
        for k in RECALLS:
            out[f"i2t_r{k}"] = 100 * sums[f"i2t_r{k}"] / max(sums["images"], 1)
            out[f"t2i_r{k}"] = 100 * sums[f"t2i_r{k}"] / max(sums["captions"], 1)
        out["rsum"] = sum(out.values())
        return out

    def checkpoint_extras(self) -> MatchingExtras:
        return MatchingExtras(self.vocab.words, self.features.encoder, self.data.name)

    def on_fit_end(self, run: Any) -> dict[str, Any]:
        training_curves_figure(run.read_metrics(), run.figure("training_curves.png"))
        results: dict[str, Any] = {"encoder": self.features.encoder}
        split = "test" if "test" in self.splits else "val"
        model = self.model.eval()
        if isinstance(model, MDAN) and split in self.pixels:
            self.attention_figure(model, split, run.figure("attention.png"))
            if self.data.scenes.get(split):
                results.update(self.attention_on_objects(model, split))
        return results

    @torch.no_grad()
    def attention_figure(self, model: nn.Module, split: str, path: Any) -> Any:
        """A few test images with one caption each: visual attention per step, textual attention per step."""
        data = self.data.splits[split]
        n = min(self.cfg.attention_examples, len(data))
        rows = list(range(n))
        device = next(model.parameters()).device
        images = self.splits[split].features.load(data.image_ids[rows]).to(device)
        _, visual = model.embed_image(images)
        texts = self.splits[split].text
        first_caption = [int(torch.nonzero(texts.caption_image == r)[0]) for r in rows]
        words, lengths = texts.words(first_caption)
        z_u, textual = model.embed_text(words.to(device), lengths.to(device))
        pixels = self.pixels[split].load_raw(data.image_ids[rows]).permute(0, 2, 3, 1).clamp(0, 1).numpy()
        steps = visual.shape[1]
        fig = plt.figure(figsize=(2.0 * (steps + 1) + 3.2, 2.45 * n))
        outer = fig.add_gridspec(n, 1, hspace=0.75)
        for r in range(n):
            spec = outer[r].subgridspec(1, steps + 2, width_ratios=[1] * (steps + 1) + [1.7], wspace=0.12)
            length = int(lengths[r])
            tokens = [self.vocab.words[w] for w in words[r, :length].tolist()]
            draw_example(fig, spec, pixels[r], visual[r].cpu().numpy(), textual[r, :, :length].cpu().numpy(), tokens,
                         data.captions[r][0], "m-DAN: image and caption attended separately", self.image_facts["grid"])
        return save_figure(fig, path)

    def attention_on_objects(self, model: nn.Module, split: str) -> dict[str, float]:
        """Share of each step's visual attention on the cells objects cover, beside uniform attention's."""
        data = self.data.splits[split]
        grid = self.image_facts["grid"]
        size = int(self.pixels[split].shape[-1])
        masks = np.stack([(object_coverage(self.data.scenes[split][int(i)], grid[0], size) >= 0.2).any(0).reshape(-1)
                          for i in data.image_ids])
        device = next(model.parameters()).device
        features = self.splits[split].features

        def visual(rows: list[int]) -> torch.Tensor:
            with torch.no_grad():
                return model.embed_image(features.load(data.image_ids[rows]).to(device))[1].float().cpu()

        out = named_attention_shares(visual, np.arange(len(data)), masks, f"{split}/attention/")
        return {k.replace("named_share", "object_share").replace("/questions", "/images"): v for k, v in out.items()}

