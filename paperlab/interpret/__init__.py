"""Model-agnostic interpretation tools (captum-like): deconvnet, occlusion, Grad-CAM, neuron importance.

Every tool that hooks a model does it inside a context manager that removes its hooks on exit,
also when an exception is raised."""
