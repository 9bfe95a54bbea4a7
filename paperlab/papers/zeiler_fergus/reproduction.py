"""What `paperlab reproduce zeiler_fergus` runs and reports (see paperlab/tasks/reproduction.py):
ZFNet trained on the embedded data (Sec. 3, Table 2's setting scaled down), then the paper's
analyses on it: the deconvnet's top-9 projections and feature evolution (Fig. 2, 4), occlusion
(Sec. 4.2, Fig. 7), invariance (Sec. 4.1, Fig. 5) and correspondence (Sec. 4.3, Table 1)."""

from paperlab.tasks.reproduction import (
    Experiment,
    Figure,
    Ours,
    Reproduction,
    Row,
    Table,
    register_reproduction,
)

TRAINED = "checkpoint={run:train_zfnet}"

REPRODUCTION = register_reproduction(Reproduction(
    paper="zeiler_fergus",
    title="Zeiler & Fergus 2013, Visualizing and Understanding Convolutional Networks",
    citation="Matthew D. Zeiler and Rob Fergus. arXiv:1311.2901, 2013 (ECCV 2014).",
    scale="ZFNet's small variant (five conv and three dense layers, 56 px inputs) on Fashion-MNIST for "
          "7 epochs on a CPU, not ZFNet on ImageNet 2012 for 70 epochs on a GPU; the analyses are the "
          "paper's, on that network and data.",
    experiments=(
        Experiment("train_zfnet", ("train", "model=zfnet"), 9, "ZFNet on Fashion-MNIST (Sec. 3)",
                   shipped="zfnet_fashion_mnist"),
        Experiment("visualize", ("visualize", TRAINED, "--evolution"), 2,
                   "deconvnet top-9 projections, feature evolution (Sec. 2.1, Fig. 2, 4)"),
        Experiment("occlude", ("occlude", TRAINED), 1, "occlusion sensitivity (Sec. 4.2, Fig. 7)"),
        Experiment("invariance", ("invariance", TRAINED), 1, "translation, scale, rotation (Sec. 4.1, Fig. 5)"),
        Experiment("correspond", ("correspond", TRAINED), 1,
                   "the same part masked in 5 ankle boots vs random boxes (Sec. 4.3, Table 1)"),
    ),
    tables=(
        Table("training", "Table 2: ZFNet's error", ("top-1 err %", "top-5 err %"), (
            Row("paper: 1 ZFNet, ImageNet 2012 val", ("38.4", "16.5"),
                "`paperlab train experiment=zfnet_imagenet data.root=...` (needs ImageNet and a GPU; not run here)"),
            Row("ZFNet (small variant), Fashion-MNIST test (10k), CPU, seed 0",
                (Ours("train_zfnet", "test/top1_err"), Ours("train_zfnet", "test/top5_err"))),
        )),
        Table("top9", "Fig. 2: what the top-9 projections show, and the maps of each layer that fire (are positive "
              "on some validation image searched)", ("paper, ImageNet: what the top-9 show", "ours: maps that fire on some image"), (
            *(Row(f"layer {k} (ours: conv{k})", (paper, Ours("visualize", f"visualize/conv{k}_live_maps")),
                  None if k == 1 else "same run")
              for k, paper in ((1, "edges and colour blobs"), (2, "corners, edge and colour conjunctions"),
                               (3, "textures (mesh, text)"), (4, "class-specific parts (dog faces, bird legs)"),
                               (5, "whole objects in varied poses"))),
        )),
        Table("occlusion", "Fig. 7: p(true class) with a grey square slid over the image", (
            "p(true class) unoccluded", "lowest p, square anywhere"), (
            Row("paper: Pomeranian, car wheel, Afghan hound, ImageNet", ("", "drops when the object is covered"), "(Fig. 7)"),
            *(Row(f"ours: {label} (validation image {i})", (Ours("occlude", f"occlude/val{i}_p_clean", 4),
                                                             Ours("occlude", f"occlude/val{i}_p_min", 4)),
                  None if i == 0 else "same run")
              for i, label in ((0, "T-shirt"), (1, "Dress"), (13, "Shirt"), (7, "Ankle boot"))),
        )),
        Table("invariance", "Fig. 5: feature distance from the original / the original's norm, and p(true class), "
              "means over each sweep", ("conv1 (paper: layer 1): distance / norm", "penultimate (paper: layer 7): distance / norm",
                               "mean p(true class)"), (
            Row("paper, ImageNet", ("changes sharply", "changes less", "stable to translation and scale, not rotation"),
                "(Fig. 5)"),
            *(Row(f"ours: {label}", tuple(Ours("invariance", f"invariance/{kind}_{key}") for key in (
                "conv1_rel_distance", "penultimate_rel_distance", "p_true_mean")), None if kind == "translate" else "same run")
              for kind, label in (("translate", "translation"), ("scale", "scale"), ("rotate", "rotation"))),
        )),
        Table("correspondence", "Table 1: mean sign change of a masked part's feature change between image pairs "
              "(lower: more consistent)", ("layer 5 (ours: conv5)", "layer 7 (ours: fc7)"), (
            Row("paper: right eye / left eye / nose, 5 dogs", ("0.067 / 0.069 / 0.079", "—"), "(Table 1)"),
            Row("paper: random parts", ("0.107", "—"), "(Table 1)"),
            *(Row(f"ours: {part}, 5 ankle boots", tuple(Ours("correspond", f"correspond/{part}_{layer}_mean", 3)
                                                      for layer in ("conv5", "penultimate")),
                  None if part == "toe" else "same run") for part in ("toe", "heel", "shaft")),
            Row("ours: random boxes (20 draws)", tuple(Ours("correspond", f"correspond/random_{layer}_mean", 3)
                                                      for layer in ("conv5", "penultimate")), "same run"),
        ), note="Layer 7 of the paper's table is not given here: only its layer-5 numbers were checked."),
    ),
    figures=(
        Figure("visualize", "figures/top9.png", "top-9 activations of four maps per layer, projected to pixels by the deconvnet.",
               "Fig. 2: top-9 activations of random maps of layers 1-5 on ImageNet val, their projections beside the image patches."),
        Figure("visualize", "figures/evolution.png", "the strongest activation of chosen maps at epochs 1, 2, 5 and the end.",
               "Fig. 4: the strongest activation of a map at epochs 1, 2, 5, 10, 20, 30, 40, 64; the lower layers settle first."),
        Figure("visualize", "figures/layer1_filters.png", "layer-1 filters of the trained network.",
               "Fig. 6: layer-1 filters of ZFNet (7x7, stride 2) against AlexNet's: fewer dead and aliased filters."),
        Figure("occlude", "figures/occlusion.png", "a grey square slid over test images: a layer-5 map's activation, p(true class), the top class.",
               "Fig. 7: occluding the object's face or wheel drops p(true class); the classifier uses the object, not its context."),
        Figure("invariance", "figures/invariance.png", "feature distance and p(true class) under translation, scale and rotation.",
               "Fig. 5: layer 1 is sensitive to small transformations, layer 7 much less; the output is invariant to translation and scale, not rotation."),
        Figure("correspond", "figures/correspondence.png", "the masked parts and random boxes on the 5 boots, and the mean sign change at conv5 and fc7.",
               "Table 1: masking the eyes or nose of 5 dogs changes layer 5 more consistently than masking random parts."),
    ),
))
