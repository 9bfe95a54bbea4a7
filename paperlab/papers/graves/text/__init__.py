"""Graves 2013, Sec. 3 (text prediction): Alex Graves, "Generating Sequences With Recurrent
Neural Networks", arXiv:1308.0850.

    char_lstm     Sec. 3: one-hot characters, the deep LSTM, a softmax; sampling
    char_lm       Sec. 3: log-loss in bits per character; Sec. 3.1: weight noise;
                  Sec. 3.2: truncated BPTT with the state carried
    bptt          Sec. 3.2: consecutive segments of parallel streams; splits as one stream
    dynamic_eval  Sec. 3.1-3.2: dynamic evaluation
    compressors   not in the paper: xz and bzip2 on the same text
    sample_text   `paperlab sample-text`

Full table: docs/papers/graves.md."""
