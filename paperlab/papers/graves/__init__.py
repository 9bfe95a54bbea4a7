"""Graves 2013: Alex Graves, "Generating Sequences With Recurrent Neural Networks",
arXiv:1308.0850.

    deep_lstm     Sec. 2, Fig. 1, Eq. 1-3: deep LSTM with skip connections (both halves use it)
    text/         Sec. 3: text prediction, character LSTM, BPC, dynamic evaluation
    handwriting/  Sec. 4: handwriting prediction, mixture density outputs;
                  Sec. 5: synthesis, soft window, biased and primed sampling

The text corpora (fortunes, PTB, enwik8) are generic: paperlab/data/text.py. The full table,
down to the function: docs/papers/graves.md."""

# The modules that register this paper's names, by registry kind (paperlab/registry.py).
REGISTRY_MODULES = {
    "model": ["text.char_lstm", "handwriting.networks", "handwriting.recognizer"],
    "dataset": ["handwriting.hershey", "handwriting.iam_ondb"],
    "learner": ["text.char_lm", "handwriting.learner", "handwriting.recognizer_learner"],
    "reproduction": ["reproduction"],
}
