"""Model-agnostic interpretation tools (captum-like): the deconvnet, occlusion sensitivity and
invariance sweeps of Zeiler & Fergus 2013 (any plain CNN: ZFNet, torchvision's AlexNet/VGG),
Grad-CAM and neuron importance.

Every tool that hooks a model does it inside a context manager that removes its hooks on exit,
also when an exception is raised."""
