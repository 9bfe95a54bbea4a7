"""One tiny `paperlab train` recipe per learner kind, for the GPU tier (tests/gpu/test_cuda.py) and
its CPU twin (tests/gpu/test_recipes_cpu.py), which keeps the recipes valid where no GPU is.

Each recipe is the override list the learner's own CPU tests use (tiny models, tiny embedded or
fixture data), cut to two training steps and one evaluation batch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import make_idx_set, tiny_train_overrides

TEXT = ("the cat sat on the mat. the dog sat on the log. " * 30 + "a bat and a rat sat on a hat. " * 30) * 2
HANDWRITING_DATA = ["data.num_lines=60", "data.num_writers=4", "data.max_chars=14", "data.num_styles=2",
                    "trainer.batch_size=4"]
SCENES = ["data.train_images=40", "data.val_images=6", "data.test_images=10", "trainer.batch_size=32"]


def _classifier(tmp: Path) -> list[str]:
    return tiny_train_overrides(make_idx_set(tmp / "idx"), epochs=1)


def _char_lm(tmp: Path) -> list[str]:
    path = tmp / "cats.txt"
    path.write_text(TEXT)
    return ["experiment=graves_text", "data=text", f"data.path={path}", "model.hidden_size=12",
            "trainer.batch_size=4", "char_lm.seq_len=10"]


def _local_loss(tmp: Path) -> list[str]:
    return ["experiment=localloss_vgg8b_predsim_fashion_mnist", f"data.root={make_idx_set(tmp / 'idx')}",
            "model.feat_mult=0.0625", "model.num_hidden=32", "model.dim_in_decoder=64", "model.target_proj_size=16",
            "trainer.batch_size=16", "trainer.eval_batch_size=40", "optim.lr=0.002"]


# learner kind -> overrides for a run in the temporary folder given (paperlab's cache set by the caller)
RECIPES: dict[str, Callable[[Path], list[str]]] = {
    "classifier": _classifier,
    "char_lm": _char_lm,
    "handwriting": lambda tmp: ["experiment=graves_synthesis", "model.hidden_size=12", "model.num_layers=2",
                                "optim.lr=0.001", *HANDWRITING_DATA],
    "handwriting_cuda_graphs": lambda tmp: ["experiment=graves_synthesis", "model.hidden_size=12",
                                            "model.num_layers=2", "model.cuda_graphs=true", "optim.lr=0.001",
                                            *HANDWRITING_DATA],
    "handwriting_recognition": lambda tmp: ["experiment=handwriting_recognizer", "model.hidden_size=8",
                                            "model.conv_channels=8", *HANDWRITING_DATA],
    "vqa": lambda tmp: ["experiment=vqa_bow_q_i", "model.mlp_hidden=16", *SCENES],
    "rdan": lambda tmp: ["experiment=vqa_rdan", "model.hidden=16", "model.embed_dim=8", "vqa.max_question_len=6",
                         "vqa.attention_examples=3", *SCENES],
    "matching": lambda tmp: ["experiment=mdan_sort_of_clevr", "model.hidden=16", "model.embed_dim=8",
                             "matching.fold_size=5", "matching.attention_examples=2", *SCENES],
    "scene_encoder": lambda tmp: ["experiment=scene_encoder_sort_of_clevr", *SCENES],
    "movieqa": lambda tmp: ["experiment=movieqa_memn2n", "movieqa.word_vectors=learned", "model.embed_dim=16",
                            "model.proj_dim=16", "model.freeze_embedding=false", "data.movies=12",
                            "trainer.batch_size=16"],
    "local_loss": _local_loss,
}

SHORT = ["trainer.max_steps=2", "trainer.max_epochs=1", "trainer.limit_eval_batches=1", "trainer.progress=false",
         "trainer.log_every_n_steps=1"]


def recipe(kind: str, tmp: Path, *extra: str) -> list[str]:
    """The overrides of `kind`'s tiny run, two steps, plus `extra`."""
    return [*RECIPES[kind](tmp), *SHORT, f"paths.cache={tmp / 'cache'}", *extra]
