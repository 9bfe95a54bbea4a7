"""Zeiler & Fergus 2013: Matthew D. Zeiler and Rob Fergus, "Visualizing and Understanding
Convolutional Networks", arXiv:1311.2901 (ECCV 2014).

    zfnet       Sec. 3, Fig. 3: ZFNet, its initialisation, filter renormalisation
    visualize   Sec. 2.1, 4, Fig. 2, 4, 6: `paperlab visualize`, top-9 deconvnet projections,
                feature evolution, layer-1 filters
    invariance  Sec. 4.1, Fig. 5: `paperlab invariance`, translation, scale, rotation sweeps
    occlude     Sec. 4.2, Fig. 7: `paperlab occlude`, occlusion sensitivity
    subject     the network and the images the three analyses study

The deconvnet, occlusion and invariance themselves are model-agnostic: paperlab/interpret/.
The full table, down to the function: docs/papers/zeiler_fergus.md."""

# The modules that register this paper's names, by registry kind (paperlab/registry.py).
REGISTRY_MODULES = {
    "model": ["zfnet"],
    "reproduction": ["reproduction"],
}
