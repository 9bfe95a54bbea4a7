"""Nøkland & Eidnes, "Training Neural Networks with Local Error Signals", ICML 2019
(arXiv:1901.06656; reference code github.com/anokland/local-loss, one script train.py).

Each hidden block of a VGG-like network or MLP is trained by its own local loss, computed by
single-layer sub-networks on the block's output, with its own optimiser; no error crosses a
block. Global backprop of the same network is the baseline.

| paper                                             | module:function                           |
|---------------------------------------------------|-------------------------------------------|
| Sec. 3, S(X): adjusted cosine similarity matrix   | similarity:similarity_matrix              |
| Sec. 3, L_sim (S(NeuralNet(H)) vs S(Y))           | local_losses:LocalLoss (sim)              |
| Sec. 3, L_pred (CrossEntropy(Y, W^T H))           | local_losses:LocalLoss (pred)             |
| Sec. 3, L_predsim = (1 - beta) L_pred + beta L_sim| local_losses:LocalLoss, rules:RULES       |
| Sec. 3, L_sim-bpf, L_pred-bpf (backprop free)     | local_losses:LocalLoss (bpf)              |
| Sec. 3, feedback alignment (Lillicrap et al.)     | feedback_alignment:LinearFA               |
| Sec. 3, decoder input: average pooling            | local_losses:decoder_pooling              |
| Sec. 3-4, blocks conv/linear -> BN -> ReLU        | blocks:Block                              |
| Sec. 4, networks mlp, vgg8b, vgg11b               | networks:LocalNet (model=local_net)       |
| Sec. 3-4, training rules (global vs local)        | rules:get_rule, training:train_step       |
| Sec. 4, Adam per block, lr milestones             | training:build_optimizers, learner:LocalLearning |
| Sec. 4, test error and per-layer local losses     | training:eval_sums, summarize             |
| Sec. 4, the recipes per dataset                   | conf/experiment/localloss_*.yaml          |
| Sec. 4, the rules compared                        | compare:run (paperlab local-loss-compare) |
| Sec. 4, the Fashion-MNIST table on a CPU          | reproduction (paperlab reproduce local_loss) |
| Sec. 1/5, memory of local vs global training      | memory:step_peak_memory                   |
| Sec. 1/5, one block's memory at a time (lean ops) | lean_ops:batch_norm_act, avg_pool, ...    |

The full table, down to the function, and the results: docs/papers/local_loss.md.
"""

# modules (relative to this package) that register names, by registry kind
REGISTRY_MODULES = {"model": ["networks"], "learner": ["learner"], "reproduction": ["reproduction"]}
