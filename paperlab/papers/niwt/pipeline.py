"""The NIWT pipeline of Selvaraju et al. 2018 (Sec. 3, Fig. 2), stage by stage, each stage's output
cached in the run directory (paperlab/papers/niwt/stages.py):

  cnn          (1) train the CNN on the seen classes with the shared engine     cnn/ (a train run)
  knowledge    class attributes and caption embeddings                         arrays/knowledge.h5
  features     penultimate features of every split (for evaluation and ALE)     arrays/features.h5
  importances  (2) neuron importances at layer L: per seen image, per class,
               and J(x) on generic images                                       arrays/importances.h5
  map          (3) domain knowledge -> importances, per knowledge source         arrays/map_<source>.h5
  transfer     (4) unseen-class weights for each lambda; lambda picked on
               held-out seen classes                                            arrays/transfer_<source>.h5
  ale          the ALE baseline on the same features and splits                 arrays/ale_<source>.h5
  evaluate     (5) GZSL U, S, H and pure ZSL; lambda sweep figure; the NIWT
               classifier over seen + unseen classes                            evaluation.json, checkpoints/best.pt
  explain      (6) Grad-CAM of unseen-class decisions and textual explanations   explanations.json, figures/
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import DataLoader, Dataset

from paperlab.config import at_least, config_schema, to_dataclass
from paperlab.engine.checkpoint import save_checkpoint
from paperlab.engine.restore import load_model
from paperlab.engine.seed import seed_everything
from paperlab.errors import UserError
from paperlab.interpret.cam_figures import cam_grid, denormalize, save_overlay
from paperlab.interpret.gradcam import GradCAM, resolve_layer
from paperlab.interpret.importance import (
    captured_input,
    final_linear,
    importance_jacobian,
    neuron_importances,
)
from paperlab.io.arrays import load_arrays
from paperlab.io.atomic import read_json, write_json
from paperlab.io.figures import plt, save_figure
from paperlab.io.rundir import RunDir, versions
from paperlab.models import model_spec
from paperlab.papers.niwt.ale import ALEConfig, ale_scores, fit_ale
from paperlab.papers.niwt.gzsl_metrics import (
    gzsl_scores,
    harmonic_mean,
    per_class_accuracy,
    spearman,
)
from paperlab.papers.niwt.stages import Stages
from paperlab.papers.niwt.weight_transfer import (
    MapConfig,
    TransferConfig,
    extend_classifier,
    fit_importance_map,
    transfer_weights,
)
from paperlab.papers.niwt.zsl_data import ZSLData

log = logging.getLogger(__name__)

STAGES = ["cnn", "knowledge", "features", "importances", "map", "transfer", "ale", "evaluate", "explain"]
SOURCES = ("attributes", "captions")


@config_schema("zsl")
@dataclass
class ZSLConfig:
    layer: str = "conv5"  # L (Sec. 3.1): VGG-16's conv5_3 in the paper
    knowledge: list[str] = field(default_factory=lambda: ["attributes", "captions"])  # checked with the data
    redo: list[str] = field(default_factory=list)
    per_class: int = at_least(1, default=40)  # seen training images per class whose importances train the map
    generic_images: int = at_least(1, default=256)  # images on which unseen importances are measured
    lambdas: list[float] = at_least(0, default_factory=lambda: [0.0, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1])
    lam: float | None = at_least(0, default=None)  # None: the lambda with the best H on the held-out seen classes
    batch_size: int = at_least(1, default=128)
    map: MapConfig = field(default_factory=MapConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    ale: ALEConfig = field(default_factory=ALEConfig)
    explain_images: int = at_least(0, default=12)
    top_attributes: int = at_least(0, default=3)


def batches(dataset: Dataset, batch_size: int) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=getattr(dataset, "collate_fn", None))


@torch.no_grad()
def penultimate_features(model: nn.Module, dataset: Dataset, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, D) inputs of the classifier layer and (N,) labels, in dataset order."""
    _, head = final_linear(model)
    feats, labels = [], []
    with captured_input(head) as store:
        for x, y in batches(dataset, batch_size):
            model(x)
            feats.append(store["x"].detach())
            labels.append(torch.as_tensor(y))
    return torch.cat(feats), torch.cat(labels)


def subset_per_class(labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """Indices of the first `per_class` items of each class."""
    keep = [torch.nonzero(labels == c).flatten()[:per_class] for c in labels.unique()]
    return torch.cat(keep).sort().values


def images_of(dataset: Dataset, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if hasattr(dataset, "__getitems__"):
        return dataset.__getitems__(indices.tolist())
    xs, ys = zip(*(dataset[int(i)] for i in indices), strict=True)
    return torch.stack(xs), torch.as_tensor(ys)


class Pipeline:
    """NIWT and ALE on one ZSL dataset, in one run directory."""

    def __init__(self, cfg: DictConfig, data: ZSLData, run: RunDir) -> None:
        self.cfg = cfg
        self.data = data
        self.run = run
        self.zcfg = to_dataclass(ZSLConfig, cfg.zsl, where="zsl")
        unknown = [k for k in self.zcfg.knowledge if k not in SOURCES]
        if unknown or not self.zcfg.knowledge:
            raise UserError(f"unknown domain knowledge {', '.join(unknown) or '(none)'} in zsl.knowledge",
                            f"choose from: {', '.join(SOURCES)}")
        if "captions" in self.zcfg.knowledge and not data.descriptions:
            raise UserError(f"data={cfg.data.name} has no class descriptions for zsl.knowledge=captions",
                            "use zsl.knowledge=[attributes]")
        self.layer_name = self.check_layer()
        self.stages = Stages(run.path, STAGES, self.zcfg.redo)
        self.seed = int(cfg.seed)
        self._model: nn.Module | None = None

    def check_layer(self) -> str:
        """The layer L by module name; checked on an untrained model, before any training."""
        from paperlab.models import create_model

        kw = OmegaConf.to_container(self.cfg.model, resolve=True)
        info = self.data.info
        model = create_model(kw.pop("name"), **kw, num_classes=info.num_classes, in_channels=info.in_channels,
                             image_size=info.image_size)
        return resolve_layer(model, self.zcfg.layer)[0]

    # -- helpers ----------------------------------------------------------------------------------
    def path(self, rel: str) -> Path:
        return self.run.path / rel

    def arrays(self, name: str) -> dict[str, torch.Tensor]:
        raw, _ = load_arrays(self.path(f"arrays/{name}.h5"))
        return {k: torch.from_numpy(v) if v.dtype.kind in "fiub" else v for k, v in raw.items()}

    @property
    def model(self) -> nn.Module:
        """The stage-(1) CNN (seen classes), from cnn/checkpoints/best.pt."""
        if self._model is None:
            self._model = load_model(self.path("cnn"), "classifier").model
        return self._model

    def settings(self, *keys: str) -> dict[str, Any]:
        """Config sections a stage depends on (its cache fingerprint)."""
        container = OmegaConf.to_container(self.cfg, resolve=True)
        out: dict[str, Any] = {"seed": self.seed, "data": container["data"]}
        for key in keys:
            out[key] = container["zsl"].get(key) if key in container["zsl"] else container.get(key)
        return out

    # -- the pipeline -----------------------------------------------------------------------------
    def run_all(self) -> dict[str, Any]:
        z = self.zcfg
        s = self.stages
        s.run("cnn", self.settings("model", "optim", "sched", "trainer"), [self.path("cnn/checkpoints/best.pt")],
              self.train_cnn)
        s.run("knowledge", self.settings("knowledge"), [self.path("arrays/knowledge.h5")], self.knowledge)
        cnn = self.settings("model", "optim", "sched", "trainer")
        s.run("features", cnn, [self.path("arrays/features.h5")], self.features)
        s.run("importances", {**cnn, **self.settings("layer", "per_class", "generic_images")},
              [self.path("arrays/importances.h5")], self.importances)
        sources = z.knowledge
        s.run("map", self.settings("knowledge", "map"), [self.path(f"arrays/map_{k}.h5") for k in sources], self.fit_maps)
        s.run("transfer", self.settings("knowledge", "transfer", "lambdas", "lam"),
              [self.path(f"arrays/transfer_{k}.h5") for k in sources], self.transfer)
        s.run("ale", self.settings("knowledge", "ale"), [self.path(f"arrays/ale_{k}.h5") for k in sources], self.ale)
        s.run("evaluate", self.settings("knowledge"), [self.path("evaluation.json"), self.path("checkpoints/best.pt")],
              self.evaluate)
        s.run("explain", self.settings("knowledge", "explain_images", "top_attributes"),
              [self.path("explanations.json"), self.path("figures/gradcam_unseen.png")], self.explain)
        results = read_json(self.path("evaluation.json"))["headline"]
        results.update(read_json(self.path("explanations.json"))["headline"])
        results["stages_run"] = ",".join(s.ran) or "none (all cached)"
        return results

    # -- (1) the CNN on the seen classes ------------------------------------------------------------
    def train_cnn(self, resume: bool) -> None:
        from paperlab.learners.classifier import Classifier
        from paperlab.tasks import train

        where = self.path("cnn")
        if not resume and where.exists():
            shutil.rmtree(where)  # settings changed or redo: train from scratch
        seed_everything(self.seed)
        learner = Classifier(self.cfg, data=self.data)
        train.run(self.cfg, run_dir=where, learner=learner, resume=resume and (where / "checkpoints/last.pt").is_file())
        self._model = None

    # -- domain knowledge ---------------------------------------------------------------------------
    def knowledge(self, resume: bool) -> None:
        d = self.data
        arrays: dict[str, Any] = {"classes": np.array(d.classes), "attribute_names": np.array(d.attribute_names),
                                  "val_classes": np.array(d.val_classes, dtype=np.int64)}
        # attributes scaled by the matrix's maximum, as the reference code does
        arrays["attributes"] = d.attributes / d.attributes.abs().max().clamp_min(1e-12)
        if "captions" in self.zcfg.knowledge:
            from paperlab.papers.niwt.captions import embed_descriptions

            arrays["captions"] = embed_descriptions(d.descriptions)
        self.run.save_arrays("knowledge", arrays, {"num_seen": d.num_seen})

    # -- features -----------------------------------------------------------------------------------
    def features(self, resume: bool) -> None:
        d, bs = self.data, self.zcfg.batch_size
        out: dict[str, torch.Tensor] = {}
        for name, dataset in (("train", d.splits["train"]), ("val", d.splits["val"]), ("test_seen", d.splits["test"]),
                              ("test_unseen", d.unseen_test)):
            out[f"{name}/feats"], out[f"{name}/labels"] = penultimate_features(self.model, dataset, bs)
        self.run.save_arrays("features", out)

    # -- (2) neuron importances ---------------------------------------------------------------------
    def importances(self, resume: bool) -> None:
        z, train = self.zcfg, self.data.splits["train"]
        labels = self.arrays("features")["train/labels"]
        idx = subset_per_class(labels, z.per_class)
        alphas = neuron_importances(self.model, self.layer_name,
                                    (images_of(train, chunk) for chunk in idx.split(z.batch_size)))
        kept = labels[idx]
        class_alphas = torch.stack([alphas[kept == c].mean(0) for c in range(self.data.num_seen)])
        g = torch.Generator().manual_seed(self.seed)
        generic = torch.randperm(len(labels), generator=g)[: z.generic_images].sort().values
        jac = torch.cat([importance_jacobian(self.model, self.layer_name, images_of(train, chunk)[0])
                         for chunk in generic.split(64)])
        self.run.save_arrays("importances", {"alphas": alphas, "labels": kept, "class_alphas": class_alphas,
                                             "jacobian": jac, "generic_index": generic}, {"layer": self.layer_name})

    # -- (3) domain knowledge -> importances --------------------------------------------------------
    def fit_maps(self, resume: bool) -> None:
        know, imp = self.arrays("knowledge"), self.arrays("importances")
        val = self.data.val_classes
        for source in self.zcfg.knowledge:
            k = know[source].float()
            train = ~torch.isin(imp["labels"], torch.tensor(val))
            net, hist = fit_importance_map(k[imp["labels"][train]], imp["alphas"][train], k[val],
                                           imp["class_alphas"][val], self.zcfg.map, self.seed)
            with torch.no_grad():
                predicted = net(k)
            corr = spearman(predicted[val], imp["class_alphas"][val]).mean()
            self.run.save_arrays(f"map_{source}", {"weight": net.weight.detach().T, "bias": net.bias.detach(),
                                                   "predicted": predicted, "loss": hist["loss"],
                                                   "val_rank_corr": hist["val_rank_corr"]},
                                 {"best_val_rank_corr": float(corr), "epochs": len(hist["loss"])})
            log.info("map %s: held-out rank correlation %.3f after %d epochs", source, corr, len(hist["loss"]))

    # -- (4) unseen-class weights -------------------------------------------------------------------
    def transfer(self, resume: bool) -> None:
        z, d = self.zcfg, self.data
        imp, feats = self.arrays("importances"), self.arrays("features")
        _, head = final_linear(self.model)
        w_seen, b_seen = head.weight.detach(), head.bias.detach()
        val = d.val_classes
        keep = [c for c in range(d.num_seen) if c not in val]
        lambdas = [z.lam] if z.lam is not None else z.lambdas
        for source in z.knowledge:
            predicted = self.arrays(f"map_{source}")["predicted"]
            out: dict[str, Any] = {"lambdas": torch.tensor(lambdas, dtype=torch.float64)}
            sweep = []
            for i, lam in enumerate(lambdas):
                w_u, _ = transfer_weights(imp["jacobian"], predicted[d.num_seen:], w_seen, lam, z.transfer, self.seed)
                out[f"weights/{i}"] = w_u
                # the same transfer with the held-out seen classes playing the unseen ones
                w_v, _ = transfer_weights(imp["jacobian"], predicted[val], w_seen[keep], lam, z.transfer, self.seed)
                w_mix, b_mix = w_seen.clone(), b_seen.clone()
                w_mix[val], b_mix[val] = w_v, 0.0
                pred = (feats["val/feats"] @ w_mix.T + b_mix).argmax(1)
                labels = feats["val/labels"]
                held = torch.isin(labels, torch.tensor(val))
                u, s = per_class_accuracy(pred[held], labels[held]), per_class_accuracy(pred[~held], labels[~held])
                sweep.append((u, s, harmonic_mean(u, s)))
                log.info("transfer %s: lambda %g, held-out seen classes U %.1f S %.1f H %.1f", source, lam, *sweep[-1])
            val_curves = torch.tensor(sweep)
            best = int(val_curves[:, 2].argmax())
            out.update({"val/U": val_curves[:, 0], "val/S": val_curves[:, 1], "val/H": val_curves[:, 2]})
            self.run.save_arrays(f"transfer_{source}", out, {"chosen": best, "lambda": lambdas[best]})

    # -- ALE ----------------------------------------------------------------------------------------
    def ale(self, resume: bool) -> None:
        feats, know = self.arrays("features"), self.arrays("knowledge")
        s = self.data.num_seen
        for source in self.zcfg.knowledge:
            emb = know[source].float()
            weight, info = fit_ale(feats["train/feats"], feats["train/labels"], emb[:s], self.data.val_classes,
                                   feats["val/feats"], feats["val/labels"], self.zcfg.ale, self.seed)
            self.run.save_arrays(f"ale_{source}", {"weight": weight, "val_zsl_acc": info["val_zsl_acc"]},
                                 {"epochs": info["epochs"]})

    # -- (5) generalized ZSL evaluation -------------------------------------------------------------
    def niwt_head(self, source: str, index: int | None = None) -> tuple[torch.Tensor, torch.Tensor, float]:
        """Weights and biases over seen + unseen classes, with the chosen (or the index-th) lambda."""
        arrays, attrs = load_arrays(self.path(f"arrays/transfer_{source}.h5"))
        i = int(attrs["chosen"]) if index is None else index
        _, head = final_linear(self.model)
        w_u = torch.from_numpy(arrays[f"weights/{i}"])
        weight = torch.cat([head.weight.detach(), w_u])
        bias = torch.cat([head.bias.detach(), torch.zeros(len(w_u))])  # new rows: no bias (reference code)
        return weight, bias, float(arrays["lambdas"][i])

    def evaluate(self, resume: bool) -> None:
        feats, know = self.arrays("features"), self.arrays("knowledge")
        fs, ls = feats["test_seen/feats"], feats["test_seen/labels"]
        fu, lu = feats["test_unseen/feats"], feats["test_unseen/labels"]
        s = self.data.num_seen
        _, head = final_linear(self.model)
        seen_only = per_class_accuracy((fs @ head.weight.detach().T).argmax(1), ls)
        table: dict[str, Any] = {"cnn_seen_only_top1": seen_only, "niwt": {}, "ale": {}, "sweep": {}}
        headline: dict[str, Any] = {"cnn/seen_only_top1": round(seen_only, 2)}
        for source in self.zcfg.knowledge:
            lambdas = torch.from_numpy(load_arrays(self.path(f"arrays/transfer_{source}.h5"))[0]["lambdas"])
            sweep = []
            for i in range(len(lambdas)):
                w, b, _ = self.niwt_head(source, i)
                sweep.append(gzsl_scores(fs @ w.T + b, ls, fu @ w.T + b, lu, s))
            w, b, lam = self.niwt_head(source)
            niwt = gzsl_scores(fs @ w.T + b, ls, fu @ w.T + b, lu, s)
            ale_w = torch.from_numpy(load_arrays(self.path(f"arrays/ale_{source}.h5"))[0]["weight"])
            emb = know[source].float()
            ale = gzsl_scores(ale_scores(fs, ale_w, emb), ls, ale_scores(fu, ale_w, emb), lu, s)
            table["niwt"][source] = {**niwt, "lambda": lam}
            table["ale"][source] = ale
            table["sweep"][source] = {"lambdas": lambdas.tolist(), "test": sweep}
            for method, scores in (("niwt", niwt), ("ale", ale)):
                headline.update({f"{method}/{source}/{k}": round(v, 2) for k, v in scores.items()})
            headline[f"niwt/{source}/lambda"] = lam
        k = len(self.data.unseen_classes)
        headline["zsl_chance"] = round(100 / k, 2)
        write_json(self.path("evaluation.json"), {"headline": headline, **table})
        self.sweep_figure(table["sweep"])
        self.save_niwt_model(self.zcfg.knowledge[0])

    def sweep_figure(self, sweeps: dict[str, Any]) -> None:
        sources = list(sweeps)
        fig, axes = plt.subplots(1, len(sources), figsize=(5.2 * len(sources), 3.8), squeeze=False)
        for ax, source in zip(axes[0], sources, strict=True):
            lambdas = np.array(sweeps[source]["lambdas"])
            x = np.where(lambdas > 0, lambdas, lambdas[lambdas > 0].min() / 10 if (lambdas > 0).any() else 1e-4)
            val = load_arrays(self.path(f"arrays/transfer_{source}.h5"))
            for key, style in (("U", "o-"), ("S", "s-"), ("H", "^-")):
                ax.plot(x, [t[key] for t in sweeps[source]["test"]], style, label=f"{key} (test)")
            ax.plot(x, val[0]["val/H"], "k--", lw=1, label="H (held-out seen classes)")
            ax.axvline(x[int(val[1]["chosen"])], color="grey", lw=0.8, ls=":")
            ax.set_xscale("log")
            ax.set_xticks(x, [f"{v:g}" for v in lambdas])
            ax.set_xlabel("lambda (0 at the left)")
            ax.set_ylabel("per-class top-1 (%)")
            ax.set_title(f"NIWT with {source}: U and S vs lambda")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        save_figure(fig, self.run.figure("lambda_sweep.png"))

    def save_niwt_model(self, source: str) -> None:
        """The CNN with the unseen classes added: a classifier checkpoint that `paperlab gradcam` reads."""
        w, b, lam = self.niwt_head(source)
        model = extend_classifier(self.model, w[self.data.num_seen:], b[self.data.num_seen:])
        classes = len(self.data.classes)
        info = dataclasses.replace(self.data.info, num_classes=classes, class_names=self.data.classes)
        spec = model_spec(self.model)
        save_checkpoint(self.path("checkpoints/best.pt"), {
            "kind": "paperlab/zsl", "learner": "classifier", "model": model.state_dict(),
            "model_name": spec.name, "model_args": {**spec.args, "num_classes": classes},
            "config": OmegaConf.to_container(self.cfg, resolve=True), "extras": dataclasses.asdict(info),
            "niwt": {"num_seen": self.data.num_seen, "knowledge": source, "lambda": lam, "layer": self.layer_name},
            "versions": versions(),
        })

    # -- (6) explanations ---------------------------------------------------------------------------
    def explain(self, resume: bool) -> None:
        z, d = self.zcfg, self.data
        source = z.knowledge[0]
        w, b, lam = self.niwt_head(source)
        model = extend_classifier(self.model, w[d.num_seen:], b[d.num_seen:]).eval()
        unseen = d.unseen_test
        labels = torch.as_tensor(unseen.labels)
        maps, weights, preds = [], [], []
        with GradCAM(model, self.layer_name) as cam:
            for x, _ in batches(unseen, z.batch_size):
                out = cam.attribute(x)  # the decision: each image's predicted class among all classes
                maps.append(out.maps)
                weights.append(out.weights)
                preds.append(out.targets)
        maps, weights, preds = torch.cat(maps), torch.cat(weights), torch.cat(preds)
        headline: dict[str, Any] = {}
        if d.unseen_masks is not None:
            flat = maps.flatten(1).argmax(1)
            hits = d.unseen_masks.flatten(1).gather(1, flat[:, None])[:, 0]
            inside = (maps * d.unseen_masks).flatten(1).sum(1) / maps.flatten(1).sum(1).clamp_min(1e-12)
            headline["explain/pointing_game"] = round(100 * float(hits.float().mean()), 2)
            headline["explain/cam_mass_on_object"] = round(100 * float(inside.mean()), 2)
            headline["explain/object_area"] = round(100 * float(d.unseen_masks.float().mean()), 2)
        # textual explanation: attributes whose predicted importance best matches the observed one
        attr_map = self.arrays("map_attributes")["weight"] if "attributes" in z.knowledge else None
        know = self.arrays("knowledge")["attributes"]
        picks = [int(torch.nonzero(labels == c).flatten()[0]) for c in labels.unique()][: z.explain_images]
        records, captions = [], []
        precision = []
        for i in range(len(labels)):
            top: list[str] = []
            if attr_map is not None:
                sim = torch.nn.functional.cosine_similarity(weights[i][None], attr_map, dim=1)
                order = sim.argsort(descending=True)[: z.top_attributes]
                top = [d.attribute_names[j] for j in order]
                precision.append(float((know[preds[i], order] > 0.5).float().mean()))
            if i in picks:
                true, pred = d.classes[int(labels[i])], d.classes[int(preds[i])]
                records.append({"index": i, "true": true, "decision": pred, "correct": true == pred,
                                "top_attributes": top})
                mark = "✓" if true == pred else "✗"
                captions.append(f"true: {true}\nNIWT: {pred} {mark}" + (f"\nbecause: {', '.join(top)}" if top else ""))
        if precision:
            headline["explain/attribute_precision"] = round(100 * float(np.mean(precision)), 2)
        x, _ = images_of(unseen, torch.tensor(picks))
        shown = denormalize(x, d.info.mean, d.info.std)
        cam_grid(shown, maps[picks].numpy(), captions, self.run.figure("gradcam_unseen.png"),
                 title=f"NIWT ({source}, lambda {lam:g}): Grad-CAM at {z.layer} for unseen-class test images")
        examples = self.path("examples")
        examples.mkdir(exist_ok=True)
        for rec, img in zip(records, shown, strict=True):
            name = rec["true"].replace(" ", "_").replace("/", "-")
            plt.imsave(examples / f"{rec['index']:04d}_{name}.png", img)
            save_overlay(img, maps[rec["index"]].numpy(), self.run.figure(f"gradcam/{rec['index']:04d}_{name}.png"))
        self.run.save_arrays("gradcam_unseen", {"maps": maps, "importances": weights, "decisions": preds,
                                                "labels": labels}, {"layer": self.layer_name, "knowledge": source})
        write_json(self.path("explanations.json"), {"headline": headline, "knowledge": source, "lambda": lam,
                                                    "examples": records, "settings": asdict(z)})
