"""The U-Net family: every registered model builds offline and maps (eo, sar) tiles to one heatmap; the
linear attention is the first-order Taylor kernel it claims to be."""

import numpy as np
import pytest
import torch

from sar_eo_coreg.core.errors import CoregError
from sar_eo_coreg.core.features import cfog
from sar_eo_coreg.models.blocks import _linear_attention
from sar_eo_coreg.models.registry import MODEL_NAMES, build_model, count_parameters
from sar_eo_coreg.models.torch_ops import CfogFeatures

EXPECTED = {"unet", "siamese_unet", "resunet18", "resunet34", "resunet50", "maresunet18", "maresunet34",
            "maresunet50", "maresunet34_crossattn", "siamese_corr"}


def test_registry_holds_the_whole_family():
    assert set(MODEL_NAMES) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_model_maps_tiles_to_one_heatmap(name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    eo, sar = torch.randn(1, 1, 96, 96), torch.randn(1, 1, 96, 96)
    with torch.no_grad():
        out = model(eo, sar)
    assert out.shape == (1, 1, 96, 96) and torch.isfinite(out).all()
    assert count_parameters(model) > 1e4


def test_three_band_eo_as_in_the_spacenet_baseline():
    model = build_model("unet", eo_channels=3, width=8).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64), torch.randn(2, 1, 64, 64)).shape == (2, 1, 64, 64)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(CoregError, match="Unknown model 'vgg'"):
        build_model("vgg")


def test_linear_attention_is_the_taylor_kernel():
    torch.manual_seed(1)
    q, k, v = torch.randn(2, 4, 10), torch.randn(2, 4, 10), torch.randn(2, 3, 10)
    qn, kn = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(k, dim=1)
    weights = 1.0 + torch.einsum("bkn,bkm->bnm", qn, kn)  # (B, N, M), explicit O(N^2)
    explicit = torch.einsum("bnm,bcm->bcn", weights, v) / weights.sum(-1).unsqueeze(1)
    assert torch.allclose(_linear_attention(q, k, v), explicit, atol=1e-5)


def test_opencv_cfog_equals_the_torch_module_the_models_use():
    image = np.random.default_rng(0).random((48, 64)).astype(np.float32)
    torch_features = CfogFeatures()(torch.from_numpy(image)[None, None])[0].numpy()
    assert np.abs(cfog(image) - torch_features).max() < 1e-5
