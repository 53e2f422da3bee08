"""Networks for ECG classification and LGE scar maps, built by name from a registry.

``build_model(name, **kwargs)`` rebuilds a saved model from its ``model.json``; ``register_model(name)``
adds a builder (duplicate names are refused); ``list_models()`` lists the names.
"""

from cardiopredict.models._registry import build_model, list_models, register_model
from cardiopredict.models.ecgnet import ECGCompositeNet, ECGNet
from cardiopredict.models.scarnet import ScarNet, pad_slices

__all__ = [
    "ECGCompositeNet",
    "ECGNet",
    "ScarNet",
    "build_model",
    "list_models",
    "pad_slices",
    "register_model",
]
