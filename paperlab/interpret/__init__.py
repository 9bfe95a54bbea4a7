"""Model-agnostic analyses of trained CNNs (captum-like): the deconvnet, occlusion sensitivity and
invariance sweeps of Zeiler & Fergus 2013, on any plain CNN (ZFNet, torchvision's AlexNet/VGG)."""
