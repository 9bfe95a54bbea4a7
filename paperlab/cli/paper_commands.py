"""Each paper's own commands (analyses, sampling, studies), grouped by paper in `paperlab --help`."""

from __future__ import annotations

from pathlib import Path

import typer

from paperlab.cli.app import PASSTHROUGH, RUN_DIR_HELP, app, checkpoint_overrides, images_override
from paperlab.errors import UserError
from paperlab.overrides import quoted, quoted_list


@app.command(rich_help_panel="Zeiler & Fergus 2013", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab visualize                                          # the shipped ZFNet on Fashion-MNIST

    paperlab visualize outputs/train/zfnet_fashion_mnist/2026-11-25_10-00-00 --evolution

    paperlab visualize visualize.layers=[conv1,conv5] visualize.maps=16

    paperlab visualize visualize.layers=[conv2] visualize.maps=[3,7,11]

    paperlab visualize model=vgg16 model.weights=IMAGENET1K_V1 data=imagenet data.root=/datasets/imagenet
""")
def visualize(
    ctx: typer.Context,
    run_dir: str = typer.Argument(None, metavar="RUN_DIR", help=RUN_DIR_HELP),
    evolution: bool = typer.Option(False, "--evolution", help="Also follow chosen maps through the run's epoch snapshots (Fig. 4)."),
) -> None:
    """Deconvnet projections of the top-9 activations of feature maps, per conv layer (Zeiler & Fergus Fig. 2)."""
    from paperlab.launch import launch
    from paperlab.papers.zeiler_fergus import visualize as task

    overrides = checkpoint_overrides(run_dir, ctx.args) + (["visualize.evolution=true"] if evolution else [])
    launch("visualize", task.main, overrides)


@app.command(rich_help_panel="Zeiler & Fergus 2013", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab occlude                                            # 4 Fashion-MNIST images, 16 px square, stride 4

    paperlab occlude outputs/train/zfnet_fashion_mnist/2026-11-25_10-00-00 --size 12 --stride 4

    paperlab occlude --image shoe.png occlude.labels=[Sneaker]

    paperlab occlude occlude.indices=[0,1,2]                    # validation images by index

    paperlab occlude model=vgg16 model.weights=IMAGENET1K_V1 --image cat.jpg --size 32 --stride 8
""")
def occlude(
    ctx: typer.Context,
    run_dir: str = typer.Argument(None, metavar="RUN_DIR", help=RUN_DIR_HELP),
    size: int = typer.Option(None, "--size", help="Side of the grey square in pixels (default 16)."),
    stride: int = typer.Option(None, "--stride", help="Pixels between square positions (default 4)."),
    image: list[Path] = typer.Option(None, "--image", help="An image file to occlude (repeatable); default: dataset images."),
) -> None:
    """Occlusion sensitivity (Zeiler & Fergus Fig. 7): slide a grey square, map layer-5 activation, p(true class), top class."""
    from paperlab.launch import launch
    from paperlab.papers.zeiler_fergus import occlude as task

    overrides = checkpoint_overrides(run_dir, ctx.args) + images_override("occlude", image)
    overrides += [f"occlude.{k}={v}" for k, v in (("size", size), ("stride", stride)) if v is not None]
    launch("occlude", task.main, overrides)


@app.command(rich_help_panel="Zeiler & Fergus 2013", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab invariance                                         # 5 Fashion-MNIST images, one per class

    paperlab invariance outputs/train/zfnet_fashion_mnist/2026-11-25_10-00-00 invariance.steps=31

    paperlab invariance --image shoe.png invariance.labels=[Sneaker]

    paperlab invariance invariance.rotate=180 invariance.scale=[0.6,1.4]
""")
def invariance(
    ctx: typer.Context,
    run_dir: str = typer.Argument(None, metavar="RUN_DIR", help=RUN_DIR_HELP),
    image: list[Path] = typer.Option(None, "--image", help="An image file to transform (repeatable); default: dataset images."),
) -> None:
    """Invariance to translation, scale, rotation (Zeiler & Fergus Fig. 5): feature distances at layer 1 and 7, p(true class)."""
    from paperlab.launch import launch
    from paperlab.papers.zeiler_fergus import invariance as task

    launch("invariance", task.main, checkpoint_overrides(run_dir, ctx.args) + images_override("invariance", image))


@app.command(rich_help_panel="Zeiler & Fergus 2013", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab correspond                                         # 5 ankle boots: toe, heel, shaft vs random parts

    paperlab correspond outputs/train/zfnet_fashion_mnist/2026-11-25_10-00-00 --draws 50

    paperlab correspond correspond.box=[8,8] correspond.seed=1 correspond.layers=[conv4,conv5,penultimate]

    paperlab correspond model=vgg16 model.weights=IMAGENET1K_V1 --image d1.jpg --image d2.jpg correspond.box=[40,40]
        correspond.layers=[conv13,penultimate] '~correspond.parts' '+correspond.parts={nose:[[100,95],[96,100]]}'
""")
def correspond(
    ctx: typer.Context,
    run_dir: str = typer.Argument(None, metavar="RUN_DIR", help=RUN_DIR_HELP),
    draws: int = typer.Option(None, "--draws", help="Sets of random boxes, the control (default 20)."),
    image: list[Path] = typer.Option(None, "--image", help="An image file (repeatable; one box per image and part); default: dataset images."),
) -> None:
    """Correspondence of parts (Zeiler & Fergus Sec. 4.3, Table 1): mask one part in each image, compare the sign changes at layers 5 and 7."""
    from paperlab.launch import launch
    from paperlab.papers.zeiler_fergus import correspond as task

    overrides = checkpoint_overrides(run_dir, ctx.args) + images_override("correspond", image)
    overrides += [f"correspond.random_draws={draws}"] if draws is not None else []
    launch("correspond", task.main, overrides)


@app.command("sample-text", rich_help_panel="Graves 2013", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab sample-text --prime "The "                         # the shipped model (graves_text)

    paperlab sample-text --prime "Love is" --length 300 --temperature 0.7 --seed 3

    paperlab sample-text --checkpoint outputs/train/graves_text/2026-11-25_10-00-00 --prime "A "

    paperlab sample-text --prime "Naïve café" --unknown skip   # drop characters the model never saw
""")
def sample_text(
    ctx: typer.Context,
    prime: str = typer.Option(None, "--prime", help="Text the network reads before it starts sampling."),
    length: int = typer.Option(None, "--length", help="Characters to generate (default 500)."),
    temperature: float = typer.Option(None, "--temperature", help="Softmax temperature, > 0 (default 0.8; 1 samples the model's own distribution)."),
    seed: int = typer.Option(None, "--seed", help="Random seed of the sampler (default 0)."),
    checkpoint: str = typer.Option(None, "--checkpoint", metavar="RUN_DIR|FILE|NAME",
                                   help="A run directory, a .pt file or a shipped model (default graves_text)."),
    unknown: str = typer.Option(None, "--unknown", help="Prime characters the model never saw: error or skip."),
) -> None:
    """Generate text with a character-level LSTM (Graves 2013 Sec. 3), streamed as it is sampled."""
    from paperlab.launch import launch
    from paperlab.papers.graves.text import sample_text as task

    given = {"prime": prime, "length": length, "temperature": temperature, "seed": seed,
             "checkpoint": checkpoint, "unknown": unknown}
    overrides = [f"{k}={quoted(v) if isinstance(v, str) else v}" for k, v in given.items() if v is not None]
    launch("sample_text", task.main, ctx.args + overrides)


@app.command("sample-handwriting", rich_help_panel="Graves 2013", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab sample-handwriting --text "hello" --bias 1.0

    paperlab sample-handwriting --text "The quick brown fox\\njumps over the lazy dog" --seed 3   # a page of two lines

    paperlab sample-handwriting --text "hello world" --bias 0 --bias 0.5 --bias 1 --bias 2   # one row per bias

    paperlab sample-handwriting --text "in my own hand" --style 0 --style 4    # primed with stored styles

    paperlab sample-handwriting --text "more of the same" --prime-strokes outputs/sample-handwriting/handwriting/DATE/arrays/strokes.h5

    paperlab sample-handwriting --unconditional --points 700                  # the prediction network (no text)

    paperlab sample-handwriting --text "as the paper samples" --best-of 1     # one draw per line (default: best of 4)

    paperlab sample-handwriting --text "mine" --checkpoint outputs/train/graves_synthesis_hershey_handwriting/DATE
""")
def sample_handwriting(
    ctx: typer.Context,
    text: str = typer.Option(None, "--text", "-t", help="What to write; lines separated by newlines or \\\\n (a page)."),
    bias: list[float] = typer.Option(None, "--bias", "-b", help="Sampling bias b >= 0 (Graves Sec. 5.4): 0 unbiased, "
                                     "higher is neater. Repeat for one row per bias. [default: 1.0]"),
    seed: int = typer.Option(None, "--seed", help="Random seed. [default: 0]"),
    sharpen_eos: bool = typer.Option(None, "--sharpen-eos/--paper-bias", help="--paper-bias: the bias sharpens the "
                                     "pen positions only (Eq. 61-62); by default it also sharpens the pen lifts "
                                     "(not in the paper). [default: --sharpen-eos]"),
    style: list[int] = typer.Option(None, "--style", help="Prime with stored style N (Sec. 5.5); repeat for several."),
    prime_strokes: Path = typer.Option(None, "--prime-strokes", help="Prime with this line: .h5 strokes, .npy "
                                       "(T, 3) offsets, or IAM-OnDB .xml.", metavar="FILE"),
    prime_text: str = typer.Option(None, "--prime-text", help="The primer's text (read from an .h5 when omitted)."),
    unconditional: bool = typer.Option(False, "--unconditional", help="Sample the prediction network (no text)."),
    points: int = typer.Option(None, "--points", help="Length of an unconditional sample. [default: 600]"),
    checkpoint: str = typer.Option(None, "--checkpoint", help="RUN_DIR, .pt file or shipped model name. "
                                   "[default: graves_synthesis, or graves_prediction]", metavar="CKPT"),
    unknown: str = typer.Option(None, "--unknown", help="Characters outside the model's alphabet: error or skip."),
    best_of: int = typer.Option(None, "--best-of", help="Write each line N times at once and keep the one whose "
                                "attention window is sharpest (not in the paper); 1: a single draw, as in the "
                                "paper. [default: 4]"),
    select: str = typer.Option(None, "--select", help="What --best-of keeps: 'window' (the sharpest alignment) or a "
                               "recogniser (e.g. handwriting_recognizer): the candidate it reads closest to the text."),
) -> None:
    """Write text by hand with Graves's synthesis network (or scribble with the prediction network)."""
    from paperlab.launch import launch
    from paperlab.papers.graves.handwriting import sample_handwriting as task

    overrides = [f"sample.{key}={quoted(str(value))}" for key, value in
                 (("text", text), ("prime_strokes", prime_strokes), ("prime_text", prime_text),
                  ("unknown", unknown), ("select", select)) if value is not None]
    if checkpoint is not None:
        overrides.append(f"checkpoint={quoted(checkpoint)}")
    if bias:
        overrides.append(f"sample.bias=[{','.join(repr(float(b)) for b in bias)}]")
    if style:
        overrides.append(f"sample.style=[{','.join(str(int(k)) for k in style)}]")
    if seed is not None:
        overrides.append(f"seed={seed}")
    if points is not None:
        overrides.append(f"sample.points={points}")
    if best_of is not None:
        overrides.append(f"sample.best_of={best_of}")
    if unconditional:
        overrides.append("sample.unconditional=true")
    if sharpen_eos is not None:
        overrides.append(f"sample.sharpen_eos={str(sharpen_eos).lower()}")
    launch("sample-handwriting", task.main, [*ctx.args, *overrides])


@app.command(rich_help_panel="Graves 2013", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab legibility                                        # the shipped synthesis network, 200 held-out lines

    paperlab legibility legibility.bias=[1] legibility.lines=50

    paperlab legibility checkpoint=outputs/train/graves_synthesis_hershey_handwriting/DATE

    paperlab legibility legibility.texts='["hello world","the quick brown fox"]'
""")
def legibility(ctx: typer.Context) -> None:
    """Score the synthesis network's handwriting: a recogniser reads its samples (error rates per bias)."""
    from paperlab.launch import launch
    from paperlab.papers.graves.handwriting import legibility as task

    launch("legibility", task.main, ctx.args)


@app.command(rich_help_panel="Selvaraju et al. 2018 (NIWT)", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab zsl                                               # NIWT + ALE on Shapes ZSL (embedded), ~11 min on 2 busy cores

    paperlab zsl zsl.knowledge=[attributes] zsl.lam=0.01       # attributes only, a fixed lambda

    paperlab zsl --resume outputs/zsl/niwt_zsl_shapes/2026-11-25_10-00-00 --redo transfer zsl.lambdas=[0,0.1]

    paperlab zsl data=zsl_fashion                              # Fashion-MNIST with hand-written clothing attributes

    paperlab zsl experiment=niwt_awa2 data.root=/datasets/AWA2 data.splits_dir=/datasets/xlsa17/data/AWA2
""")
def zsl(
    ctx: typer.Context,
    resume: Path = typer.Option(None, "--resume", metavar="RUN_DIR",
                                help="Continue the run in RUN_DIR: finished stages are reused."),
    redo: list[str] = typer.Option(None, "--redo", metavar="STAGE",
                                   help="Recompute STAGE and every later one (cnn, knowledge, features, importances, "
                                        "map, transfer, ale, evaluate, explain); repeatable."),
) -> None:
    """NIWT zero-shot learning (Selvaraju et al. 2018): train a CNN on the seen classes, map domain
    knowledge to neuron importances, learn unseen-class weights, evaluate GZSL (U, S, H) against
    ALE, explain unseen decisions with Grad-CAM. Extra arguments are Hydra overrides."""
    from paperlab.launch import launch
    from paperlab.papers.niwt import zsl as task

    overrides = [f"zsl.redo=[{','.join(redo)}]"] if redo else []
    launch("zsl", task.main, ctx.args + overrides, resume=resume, transient=("zsl.redo",))


@app.command(rich_help_panel="Selvaraju et al. 2018 (NIWT)", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab gradcam outputs/zsl/niwt_zsl_shapes/2026-11-25_10-00-00 outputs/zsl/niwt_zsl_shapes/2026-11-25_10-00-00/examples/*.png

    paperlab gradcam outputs/train/zfnet_fashion_mnist/2026-11-25_10-00-00 shoe.png --layer conv4 --target Sneaker

    paperlab gradcam RUN_DIR a.png b.png gradcam.alpha=0.4     # Hydra overrides may follow the images
""")
def gradcam(
    ctx: typer.Context,
    where: str = typer.Argument(..., metavar="RUN_DIR", help="A run directory, a checkpoint .pt or a shipped model."),
    images: list[str] = typer.Argument(None, metavar="IMAGES...", help="Image files (PNG, JPEG, ...)."),
    layer: str = typer.Option("last", "--layer", help="Conv layer: last, conv1..convN, or a module name."),
    target: str = typer.Option(None, "--target", help="Class to explain (name or index); default: the prediction."),
) -> None:
    """Grad-CAM (Selvaraju et al. 2017) of a trained classifier on image files: overlays (PNG) and
    maps (HDF5) in a run directory."""
    from paperlab.launch import launch
    from paperlab.tasks import gradcam as task

    # Typer gives every positional after RUN_DIR to IMAGES; key=value ones are Hydra overrides
    files = [i for i in images or [] if "=" not in i]
    extra = [i for i in images or [] if "=" in i]
    overrides = [f"checkpoint={quoted(where)}", f"gradcam.images={quoted_list(files)}",
                 f"gradcam.layer={quoted(layer)}"]
    if target is not None:
        overrides.append(f"gradcam.target={quoted(target)}")
    mistyped = [where] if where.startswith("-") else []  # an unknown option landed in RUN_DIR: name it
    launch("gradcam", task.main, mistyped + ctx.args + extra + overrides)


@app.command("vqa-eval", rich_help_panel="Antol et al. 2015 (VQA)", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab vqa-eval --questions v2_OpenEnded_mscoco_val2014_questions.json --annotations v2_mscoco_val2014_annotations.json --results my_results.json

    paperlab vqa-eval --annotations A.json --results R.json --protocol 2017      # the pre-2021 evaluator

    paperlab vqa-eval --questions MultipleChoice_mscoco_val2014_questions.json --annotations A.json --results R.json

    paperlab vqa-eval --annotations A.json --results part.json --allow-partial   # score the answered subset
""")
def vqa_eval(
    ctx: typer.Context,
    questions: Path = typer.Option(None, "--questions", help="VQA questions file (a multiple-choice one checks the answers are choices)."),
    annotations: Path = typer.Option(None, "--annotations", help="VQA annotations file (ten human answers a question)."),
    results: Path = typer.Option(None, "--results", help='Results: [{"question_id": int, "answer": str}, ...].'),
    protocol: str = typer.Option("2021", "--protocol", help="2021 (official since 2021) or 2017 (the earlier evaluator)."),
    allow_partial: bool = typer.Option(False, "--allow-partial", help="Score only the answered questions."),
) -> None:
    """Score VQA results with the official metric: overall, per answer type, question type and question."""
    from paperlab.launch import launch
    from paperlab.papers.vqa import vqa_eval as task

    if annotations is None or results is None:
        raise UserError("vqa-eval needs --annotations and --results", "see: paperlab vqa-eval --help")
    from paperlab.papers.vqa.metric import check_protocol

    check_protocol(protocol)
    overrides = [f"annotations={quoted(str(annotations.resolve()))}", f"results={quoted(str(results.resolve()))}",
                 f"protocol={quoted(protocol)}", f"allow_partial={str(allow_partial).lower()}"]
    if questions is not None:
        overrides.append(f"questions={quoted(str(questions.resolve()))}")
    launch("vqa-eval", task.main, ctx.args + overrides)


@app.command("vqa-baselines", rich_help_panel="Antol et al. 2015 (VQA)", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab vqa-baselines                                   # the relational scenes (data=sort_of_clevr)

    paperlab vqa-baselines data=easy_vqa

    paperlab vqa-baselines data=easy_vqa baselines=[prior_yes,qtype_prior] split=val

    paperlab vqa-baselines data=vqa_v2 data.root=/datasets/vqa data.features=/datasets/vqa/fc7.h5
""")
def vqa_baselines(ctx: typer.Context) -> None:
    """The VQA paper's baselines (random, prior yes, per-question-type prior, nearest neighbour). Extra arguments are overrides."""
    from paperlab.launch import launch
    from paperlab.papers.vqa import vqa_baselines as task

    launch("vqa-baselines", task.main, ctx.args)


@app.command(rich_help_panel="Tapaswi et al. 2016 (MovieQA)", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab movieqa                                          # every baseline, embedded set, val split, plot synopses

    paperlab movieqa --story subtitle                         # the same questions answered from the subtitles

    paperlab movieqa baselines=[hasty-longest,searching] representations=[tfidf] windows=[1,3]

    paperlab movieqa baselines=[sscb-fusion] learned.sscb-fusion.inits=5

    paperlab movieqa --split test                             # answers withheld: predictions only, "no labels"

    paperlab movieqa data=movieqa data.root=/datasets/MovieQA_benchmark --story subtitle
""")
def movieqa(
    ctx: typer.Context,
    story: str | None = typer.Option(None, "--story", help="Story source: split_plot, plot, subtitle, script, dvs."),
    split: str | None = typer.Option(None, "--split", help="Split to score: val, or test (predictions only)."),
) -> None:
    """MovieQA (Tapaswi et al., CVPR 2016): every text baseline (hasty and searching students, SSCB, memory network)
    on one split and story source, accuracy overall and per question type. Extra arguments are Hydra overrides."""
    from paperlab.launch import launch
    from paperlab.papers.movieqa import baselines as task

    overrides = [f"data.story={quoted(story)}"] if story is not None else []
    overrides += [f"split={quoted(split)}"] if split is not None else []
    launch("movieqa", task.main, ctx.args + overrides)


@app.command("local-loss-compare", rich_help_panel="Nøkland & Eidnes 2019", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab train -m experiment=localloss_vgg8b_predsim_fashion_mnist_cpu local_loss.rule=backprop,pred,sim,predsim,predsim-bpf

    paperlab local-loss-compare outputs/train/localloss_vgg8b_fashion_mnist_cpu/multirun_2026-12-05_10-00-00

    paperlab local-loss-compare runs/backprop runs/predsim name=two_rules   # run directories, in this order
""")
def local_loss_compare(
    ctx: typer.Context,
    runs: list[str] = typer.Argument(None, help="Run directories, or folders holding local-loss runs (a sweep's)."),
) -> None:
    """The per-epoch error of local-loss runs (Nøkland & Eidnes 2019), one line per training rule,
    on one plot. Arguments with '=' are Hydra overrides."""
    from paperlab.launch import launch
    from paperlab.papers.local_loss import compare as task

    words = [*(runs or []), *ctx.args]
    folders = [w for w in words if "=" not in w and not w.startswith("-")]
    others = [w for w in words if w not in folders]
    if not folders:
        raise UserError("local-loss-compare needs run directories or a folder of runs",
                        "see: paperlab local-loss-compare --help")
    launch("local_loss_compare", task.main,
           [*others, f"runs={quoted_list([str(Path(f).resolve()) for f in folders])}"])


@app.command(rich_help_panel="Locatello et al. 2019", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab disentangle                                # the reduced study: 6 methods x 2 hyperparameters x 3 seeds, ~30 min on 2 cores

    paperlab disentangle experiment=dis_beta_vae,dis_factor_vae seed=0,1   # sweep values on the command line replace the study's

    paperlab disentangle hydra/launcher=slurm hydra.launcher.gpus_per_node=1 seed=0,1,2,3,4   # the same sweep as SLURM jobs

    paperlab train -m experiment=dis_beta_vae,dis_factor_vae method.level=0,1,2,3,4,5 'seed=range(50)'   # the study's settings

    paperlab disentangle --report outputs/disentangle/dsprites_study/multirun_2026-12-05_10-00-00

    paperlab train experiment=dis_factor_vae method.level=2 seed=0 trainer.max_steps=300   # one model
""")
def disentangle(
    ctx: typer.Context,
    report: Path = typer.Option(None, "--report", metavar="SWEEP_DIR",
                                help="Only draw the study's report of the trained models in SWEEP_DIR."),
) -> None:
    """The study of Locatello et al. (ICML 2019): train every method x hyperparameter x seed on
    dSprites as one sweep (Hydra's launcher), score each model by every metric, then report the
    score distributions, the metrics' rank correlations and how much of each metric's variance the
    method, the hyperparameter and the seed explain. Extra arguments are Hydra overrides."""
    from paperlab.launch import composed, launch, split_args

    if report is not None:
        from paperlab.papers.disentanglement import report as task

        launch("disentangle_report", task.main, [*ctx.args, f"sweep_dir={quoted(str(report))}"])
        return
    from paperlab.papers.disentanglement import study as task

    with composed("disentangle", task.shared_overrides(split_args(ctx.args)[1])) as cfg:
        task.check_settings(cfg)  # before any job starts
    launch("disentangle", task.main, ["-m", *ctx.args])


@app.command(rich_help_panel="Burt et al. 2019", context_settings=PASSTHROUGH, epilog="""
**Examples**

    paperlab sgpr                                               # (a)-(d) at CPU sizes: KL vs M, M needed vs N, Matern, CO2 + diabetes

    paperlab sgpr experiment=sgpr_m_needed                      # (b) M needed for KL <= 1 nat against N up to 10^6

    paperlab sgpr experiment=sgpr_kl_vs_m sgpr.kl_vs_m.methods=[greedy,kdpp]

    paperlab sgpr sgpr.experiments=[matern] sgpr.threshold=0.1

    paperlab sgpr experiment=sgpr_real_data sgpr.real_data.datasets=[] sgpr.real_data.file=points.csv
        sgpr.real_data.x_columns=[a,b] sgpr.real_data.y_column=y
""")
def sgpr(ctx: typer.Context) -> None:
    """Sparse GP regression (Burt, Rasmussen & van der Wilk, ICML 2019): Titsias' bound L, the upper bound U and
    the KL against the number of inducing points M, and how M must grow with N. Extra arguments are Hydra overrides."""
    from paperlab.launch import launch
    from paperlab.papers.sgpr import study as task

    launch("sgpr", task.main, ctx.args)
