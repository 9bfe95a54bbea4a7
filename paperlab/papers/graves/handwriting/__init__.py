"""Graves 2013, Sec. 4-5 (handwriting prediction and synthesis): Alex Graves, "Generating
Sequences With Recurrent Neural Networks", arXiv:1308.0850.

    strokes             Sec. 4: pen offsets (x1, x2, x3), normalisation, the shared format
    iam_ondb            Sec. 4: IAM-OnDB in its original layout
    hershey             the embedded corpus standing in for IAM-OnDB (Hershey script faces)
    mixture_density     Sec. 4.1, Eq. 15-26: mixture density outputs; Eq. 61-62: the bias
    networks            Sec. 4, 5.1: prediction and synthesis networks; Sec. 4.2: clips
    soft_window         Sec. 5.1, Eq. 46-51: the soft window
    window_recurrence   Sec. 5.1, Eq. 52: layer 1 and the window, hand-written backward
    step_graphs         the same step loops as CUDA graphs (model.cuda_graphs=true, on a GPU)
    learner             Eq. 26: the loss in nats per line
    sampling            Sec. 5.3-5.5: stop rule, biased and primed sampling; best of N
    figures             Fig. 10, 13: mixture densities, window alignment
    sample_handwriting  `paperlab sample-handwriting`
    recognizer, recognizer_learner, reading, legibility
                        not in the paper: a BLSTM-CTC reader; `paperlab legibility`

Full table: docs/papers/graves.md."""
