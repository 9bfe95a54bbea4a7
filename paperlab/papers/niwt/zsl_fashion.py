"""Fashion-MNIST ZSL: real images (Xiao et al. 2017) with a class attribute matrix written for this
project in the style of AwA's predicate matrix (Lampert et al.; Xian et al. 2018), plus a few
free-form descriptions per class, for NIWT (Selvaraju et al. 2018, Sec. 4).

The 30 attributes say what a garment is and how it is built (worn on the feet, long sleeves,
laces, heel...). Values are in [0, 1], the share of items of the class that have the attribute, as
AwA's continuous matrix (rescaled from 0-100). With only 10 classes this is a hard ZSL setting:
by default Coat, Sandal and Dress are unseen; the map from attributes to importances is learned
from the 7 seen classes. Object masks for the Grad-CAM check are the non-black pixels.
"""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig

from paperlab.data import register_data
from paperlab.data.images import in_memory_image_data
from paperlab.data.mnist import FASHION_CLASSES, fashion_mnist_arrays
from paperlab.data.tensor_images import TensorImages
from paperlab.papers.niwt.zsl_data import (
    ZSLData,
    check_attribute_rows,
    order_classes,
    pick_val_classes,
)

ATTRIBUTES = [
    "worn on the upper body", "worn on the legs", "worn on the feet", "carried, not worn", "has sleeves",
    "long sleeves", "short sleeves", "has a collar", "has buttons", "has a zip", "opens at the front",
    "one-piece garment", "two separate legs", "covers the knees", "has a heel", "has laces", "open toes or straps",
    "covers the ankle", "flat sole", "has a handle or strap", "rectangular outline", "knitted or woolly",
    "thick and warm", "light summer wear", "formal", "sporty", "taller than wide", "has pockets",
    "waist is narrower than the hem", "made of leather or rubber",
]
# rows: FASHION_CLASSES order; columns: ATTRIBUTES order; share of items of the class with the attribute
MATRIX = {
    "T-shirt/top": [1, 0, 0, 0, .9, 0, .9, .1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, .1, .1, 0, 1, 0, .7, .2, .1, .1, 0],
    "Trouser":     [0, 1, 0, 0, 0, 0, 0, 0, .6, .6, .5, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, .4, .2, .5, .3, 1, .8, .1, .1],
    "Pullover":    [1, 0, 0, 0, 1, 1, 0, .2, 0, .1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, .3, .9, .8, 0, .2, .2, .3, .1, .1, 0],
    "Dress":       [1, .8, 0, 0, .4, .1, .3, .2, .2, .3, .1, 1, 0, .7, 0, 0, 0, 0, 0, 0, 0, .1, .1, .8, .6, 0, 1, .1, .9, 0],
    "Coat":        [1, .3, 0, 0, 1, 1, 0, .9, .7, .6, 1, 0, 0, .4, 0, 0, 0, 0, 0, 0, .2, .2, 1, 0, .6, 0, .8, .9, .2, .2],
    "Sandal":      [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, .4, 0, 1, .2, .6, .5, 0, 0, 0, 1, .2, .2, 0, 0, 0, .8],
    "Shirt":       [1, 0, 0, 0, 1, .7, .3, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, .3, 0, .2, .4, .8, 0, .4, .5, .1, 0],
    "Sneaker":     [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, .9, 0, .1, 1, 0, 0, 0, .2, .3, 0, 1, 0, 0, 0, .9],
    "Bag":         [0, 0, 0, 1, 0, 0, 0, 0, .2, .6, .3, 0, 0, 0, 0, 0, 0, 0, .3, 1, .9, .1, 0, 0, .4, .1, .2, .6, 0, .7],
    "Ankle boot":  [0, 0, 1, 0, 0, 0, 0, 0, 0, .3, 0, 0, 0, 0, .8, .5, 0, 1, .2, 0, 0, .1, .9, 0, .3, .1, .4, 0, 0, 1],
}
DESCRIPTIONS = {
    "T-shirt/top": ["A light top with short sleeves, pulled over the head.", "A casual cotton t-shirt for summer.",
                    "A simple top for the upper body, no collar and no buttons."],
    "Trouser": ["Long trousers with two legs that cover the legs down to the ankles.",
                "A pair of pants with pockets and a zip at the front.", "Tall, narrow clothing worn on the legs."],
    "Pullover": ["A warm knitted jumper with long sleeves.", "A woolly sweater pulled over the head in winter.",
                 "A thick top for the upper body with long sleeves and no opening at the front."],
    "Dress": ["A one-piece garment for women that covers the body and the legs down to the knees.",
              "A light summer dress, narrow at the waist and wide at the hem.", "A long, elegant dress."],
    "Coat": ["A thick, warm coat with long sleeves, buttons and pockets, open at the front.",
             "A long winter overcoat with a collar.", "An outer garment worn over other clothes in the cold."],
    "Sandal": ["An open shoe with straps and bare toes for summer.", "A flat sandal held on the foot by straps.",
               "Light footwear with an open toe, sometimes with a heel."],
    "Shirt": ["A formal shirt with a collar and buttons down the front.", "A button-up shirt with long sleeves.",
              "A shirt for the office, opening at the front."],
    "Sneaker": ["A sporty shoe with laces and a flat rubber sole.", "A trainer for running, low, not covering the ankle.",
                "A casual sports shoe."],
    "Bag": ["A handbag carried by its handle or strap.", "A rectangular bag with a zip, not worn on the body.",
            "A leather purse to carry things in."],
    "Ankle boot": ["A leather boot that covers the ankle, with a heel.", "A warm short boot for winter.",
                   "Footwear that reaches above the ankle, sometimes with laces."],
}
DEFAULT_UNSEEN = ["Coat", "Sandal", "Dress"]


def attribute_matrix() -> np.ndarray:
    return np.array([MATRIX[c] for c in FASHION_CLASSES], dtype=np.float32)


@register_data("zsl_fashion")
def zsl_fashion(cfg: DictConfig) -> ZSLData:
    """Fashion-MNIST ZSL: 10 clothing classes x 30 written attributes, 3 unseen (Coat, Sandal, Dress)."""
    attributes = attribute_matrix()
    check_attribute_rows(attributes, FASHION_CLASSES, "(zsl_fashion.MATRIX)")
    unseen = list(cfg.unseen) if cfg.get("unseen") else DEFAULT_UNSEEN
    seen_idx, unseen_idx = order_classes(FASHION_CLASSES, unseen, list(cfg.seen) if cfg.get("seen") else None,
                                         " (data.seen / data.unseen)")
    train_x, train_y, test_x, test_y = fashion_mnist_arrays(cfg)
    order = seen_idx + unseen_idx
    to_gzsl = torch.full((10,), -1, dtype=torch.long)
    to_gzsl[torch.tensor(order)] = torch.arange(len(order))
    s = len(seen_idx)
    train_y, test_y = to_gzsl[train_y.long()], to_gzsl[test_y.long()]
    keep = torch.cat([torch.nonzero(train_y == c).flatten()[: int(cfg.train_per_class)] for c in range(s)]).sort().values
    seen_test = test_y < s
    names = [FASHION_CLASSES[i] for i in order]
    data = in_memory_image_data(train_x[keep], train_y[keep], test_x[seen_test], test_y[seen_test], names[:s], cfg)
    info = data.info
    unseen_x, unseen_y = test_x[~seen_test], test_y[~seen_test]
    return ZSLData(
        splits=data.splits, info=info, classes=names, num_seen=s,
        attributes=torch.from_numpy(attributes[order]), attribute_names=list(ATTRIBUTES),
        descriptions=[DESCRIPTIONS[n] for n in names],
        val_classes=pick_val_classes(s, float(cfg.val_classes), int(cfg.split_seed)),
        unseen_test=TensorImages(unseen_x, unseen_y, mean=info.mean, std=info.std),
        unseen_masks=unseen_x[:, 0] > 25,  # the garment: everything brighter than the black background
    )
