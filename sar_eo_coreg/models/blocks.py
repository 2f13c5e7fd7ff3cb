"""Building blocks of the heatmap U-Net family: convolution blocks, linear attention (first-order
Taylor kernel, O(N) in pixels), channel attention, the MAResU-Net attention block, and cross-modal attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 (PyTorch's convention)
from torch import nn


class ConvBlock(nn.Sequential):
    """(3x3 conv, batch norm, ReLU) twice."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def _linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q.k) replaced by its first-order Taylor expansion 1 + q.k with unit-norm q and k (so the
    weights stay positive): out_n = sum_m (1 + q_n.k_m) v_m / sum_m (1 + q_n.k_m). q, k (B, Ck, N); v (B, C, N)."""
    q = F.normalize(q, dim=1)
    k = F.normalize(k, dim=1)
    n = v.shape[-1]
    kv = torch.einsum("bkn,bcn->bkc", k, v)
    numerator = v.sum(-1, keepdim=True) + torch.einsum("bkn,bkc->bcn", q, kv)
    denominator = n + torch.einsum("bkn,bk->bn", q, k.sum(-1))
    return numerator / denominator.unsqueeze(1)


class LinearAttention(nn.Module):
    """Position attention with the linear (Taylor) kernel; `context` (another modality) gives keys and values."""

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        key_channels = max(channels // reduction, 4)
        self.query = nn.Conv2d(channels, key_channels, 1)
        self.key = nn.Conv2d(channels, key_channels, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, context: torch.Tensor = None) -> torch.Tensor:
        context = x if context is None else context
        b, c, h, w = x.shape
        out = _linear_attention(self.query(x).flatten(2), self.key(context).flatten(2), self.value(context).flatten(2))
        return x + self.gamma * out.view(b, c, h, w)


class ChannelAttention(nn.Module):
    """Channel attention (as in DANet / MAResU-Net): channels re-weighted by their mutual similarity."""

    def __init__(self):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        flat = x.flatten(2)
        energy = torch.bmm(flat, flat.transpose(1, 2)) / flat.shape[-1]
        attention = torch.softmax(energy.amax(-1, keepdim=True) - energy, dim=-1)
        return x + self.gamma * torch.bmm(attention, flat).view(b, c, h, w)


class AttentionBlock(nn.Module):
    """MAResU-Net skip attention: linear position attention + channel attention, summed, then a 1x1 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.position = LinearAttention(channels)
        self.channel = ChannelAttention()
        self.project = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels),
                                     nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.position(x) + self.channel(x))


class CrossModalAttention(nn.Module):
    """SAR features attend to EO features and EO to SAR (linear attention); returns both updated streams
    and their fusion (1x1 conv of the concatenation), which goes forward as the skip feature."""

    def __init__(self, channels: int):
        super().__init__()
        self.eo_from_sar = LinearAttention(channels)
        self.sar_from_eo = LinearAttention(channels)
        self.fuse = nn.Sequential(nn.Conv2d(2 * channels, channels, 1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU(inplace=True))

    def forward(self, eo: torch.Tensor, sar: torch.Tensor):
        eo2, sar2 = self.eo_from_sar(eo, sar), self.sar_from_eo(sar, eo)
        return eo2, sar2, self.fuse(torch.cat([eo2, sar2], dim=1))
