"""r-DAN on VQA (Nam et al. 2017, Sec. 3.3 and 4.1): trained and scored as any VQA model of Antol et
al. 2015 (paperlab/papers/vqa/learner.py), and then where its two attentions look (Figs. 3-5):
figures for a few test questions, and on data with scene annotations the share of the visual
attention on the objects a question names (paperlab/papers/dan/attention.py)."""

from __future__ import annotations

from typing import Any

from paperlab.engine.learner import register_learner
from paperlab.papers.dan.attention import attention_figure, attention_on_named_objects
from paperlab.papers.vqa.learner import VQALearner


@register_learner("rdan")
class RDANLearner(VQALearner):
    """r-DAN trained as a VQA model; reports where its attention looks."""

    def on_fit_end(self, run: Any) -> dict[str, Any]:
        results = super().on_fit_end(run)
        split = "test" if "test" in self.data.splits else "val"
        if split not in self.pixels:
            return results
        grid = self.image_facts["grid"]
        attention_figure(self.model, self.data, self.pixels[split], split, run.figure("attention.png"),
                         self.cfg.attention_examples, grid)
        if self.data.scenes.get(split):
            size = int(self.pixels[split].shape[-1])
            results.update(attention_on_named_objects(self.model, self.data, split, grid, size))
        return results
