"""The heatmap U-Net family. Every network takes (eo, sar) tiles of the same size (B, C, H, W) and returns
heatmap logits (B, 1, H, W) whose peak marks where the EO tile's reference point lies in the SAR tile.

Every network is also a dense descriptor network for the engine: `describe(image, modality)` runs it on one
modality (the other input zero) and reads its last decoder features out through a 1x1 convolution into
DESCRIPTOR_DIM L2-normalised channels plus one matchability logit, at full resolution."""

from __future__ import annotations

from typing import Callable, List

import torch
import torch.nn.functional as F  # noqa: N812 (PyTorch's convention)
import torchvision
from torch import nn

from .blocks import AttentionBlock, ConvBlock, CrossModalAttention

DESCRIPTOR_DIM = 16  # learned descriptor channels
RESNET_CHANNELS = {18: [64, 64, 128, 256, 512], 34: [64, 64, 128, 256, 512], 50: [64, 256, 512, 1024, 2048]}


class Decoder(nn.Module):
    """U-Net decoder over skips ordered from fine to coarse; `stem_stride` 2 adds a last upsampling."""

    def __init__(self, channels: List[int], stem_stride: int = 1, max_width: int = 256):
        super().__init__()
        widths = [min(c, max_width) for c in channels]
        self.blocks = nn.ModuleList()
        below = channels[-1]
        for i in range(len(channels) - 2, -1, -1):
            self.blocks.append(ConvBlock(below + channels[i], widths[i]))
            below = widths[i]
        self.final = ConvBlock(below, max(below // 2, 16)) if stem_stride == 2 else nn.Identity()
        self.out_channels = max(below // 2, 16) if stem_stride == 2 else below
        self.head = nn.Conv2d(self.out_channels, 1, 1)

    def features(self, skips: List[torch.Tensor], size) -> torch.Tensor:
        """The last features before the heatmap head, (B, out_channels, *size)."""
        x = skips[-1]
        for block, skip in zip(self.blocks, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        if x.shape[-2:] != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return self.final(x)

    def forward(self, skips: List[torch.Tensor], size) -> torch.Tensor:
        return self.head(self.features(skips, size))


class DenseReadout(nn.Module):
    """The descriptor side of a family network: each network defines `single(image, modality)`, its decoder
    features for one modality, and `readout`, a 1x1 convolution that turns them into descriptors and a
    matchability logit."""

    readout: nn.Conv2d
    single: Callable[[torch.Tensor, str], torch.Tensor]

    def describe(self, image: torch.Tensor, modality: str):
        """(descriptors (B, DESCRIPTOR_DIM, H, W) unit norm per pixel, matchability logits (B, 1, H, W))."""
        out = self.readout(self.single(image, modality))
        return F.normalize(out[:, :DESCRIPTOR_DIM], dim=1), out[:, DESCRIPTOR_DIM:]


def _zero_other(image: torch.Tensor, modality: str) -> torch.Tensor:
    """(image, 0) for EO, (0, image) for SAR: one modality through a network that takes both concatenated."""
    zero = torch.zeros_like(image)
    return torch.cat([image, zero] if modality == "eo" else [zero, image], dim=1)


class StagedEncoder(nn.Module):
    """An encoder made of `stages`; returns every stage's output (the skips), fine to coarse."""

    stages: nn.ModuleList

    def forward(self, x):
        skips = []
        for stage in self.stages:
            x = stage(x)
            skips.append(x)
        return skips


class UNetEncoder(StagedEncoder):
    def __init__(self, in_channels: int, width: int, depth: int = 4):
        super().__init__()
        self.channels = [width * 2**i for i in range(depth + 1)]
        self.stages = nn.ModuleList([ConvBlock(in_channels, width)])
        for i in range(depth):
            self.stages.append(nn.Sequential(nn.MaxPool2d(2), ConvBlock(self.channels[i], self.channels[i + 1])))


class UNet(DenseReadout):
    """KeypointArchitecture baseline: EO and SAR concatenated, one encoder, one heatmap."""

    def __init__(self, eo_channels: int = 1, width: int = 16):
        super().__init__()
        self.encoder = UNetEncoder(eo_channels + 1, width)
        self.decoder = Decoder(self.encoder.channels)
        self.readout = nn.Conv2d(self.decoder.out_channels, DESCRIPTOR_DIM + 1, 1)

    def single(self, image, modality):
        return self.decoder.features(self.encoder(_zero_other(image, modality)), image.shape[-2:])

    def forward(self, eo, sar):
        return self.decoder(self.encoder(torch.cat([eo, sar], dim=1)), eo.shape[-2:])


class SiameseUNet(DenseReadout):
    """One encoder per modality; their features are concatenated at every level and fused in the decoder."""

    def __init__(self, eo_channels: int = 1, width: int = 16):
        super().__init__()
        self.eo_encoder = UNetEncoder(eo_channels, width)
        self.sar_encoder = UNetEncoder(1, width)
        self.decoder = Decoder([2 * c for c in self.eo_encoder.channels])
        self.readout = nn.Conv2d(self.decoder.out_channels, DESCRIPTOR_DIM + 1, 1)

    def single(self, image, modality):
        own = (self.eo_encoder if modality == "eo" else self.sar_encoder)(image)
        skips = [torch.cat([f, torch.zeros_like(f)] if modality == "eo" else [torch.zeros_like(f), f], dim=1)
                 for f in own]
        return self.decoder.features(skips, image.shape[-2:])

    def forward(self, eo, sar):
        skips = [torch.cat(pair, dim=1) for pair in zip(self.eo_encoder(eo), self.sar_encoder(sar))]
        return self.decoder(skips, eo.shape[-2:])


class ResNetEncoder(StagedEncoder):
    """A torchvision ResNet (no pretrained weights: nothing is downloaded) with its first convolution adapted
    to `in_channels`. Stages at strides 2, 4, 8, 16, 32."""

    def __init__(self, depth: int, in_channels: int):
        super().__init__()
        net = getattr(torchvision.models, f"resnet{depth}")(weights=None)
        net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.channels = RESNET_CHANNELS[depth]
        self.stages = nn.ModuleList([nn.Sequential(net.conv1, net.bn1, net.relu),
                                     nn.Sequential(net.maxpool, net.layer1), net.layer2, net.layer3, net.layer4])


class ResUNet(DenseReadout):
    """ResNet encoder on the concatenated EO + SAR; `attention` adds MAResU-Net blocks on the skips."""

    def __init__(self, depth: int = 18, eo_channels: int = 1, attention: bool = False):
        super().__init__()
        self.encoder = ResNetEncoder(depth, eo_channels + 1)
        channels = self.encoder.channels
        self.attention = nn.ModuleList([AttentionBlock(c) for c in channels[:-1]]) if attention else None
        self.decoder = Decoder(channels, stem_stride=2)
        self.readout = nn.Conv2d(self.decoder.out_channels, DESCRIPTOR_DIM + 1, 1)

    def _skips(self, x):
        skips = self.encoder(x)
        if self.attention is not None:
            skips = [block(s) for block, s in zip(self.attention, skips[:-1])] + skips[-1:]
        return skips

    def single(self, image, modality):
        return self.decoder.features(self._skips(_zero_other(image, modality)), image.shape[-2:])

    def forward(self, eo, sar):
        return self.decoder(self._skips(torch.cat([eo, sar], dim=1)), eo.shape[-2:])


class CrossAttentionResUNet(DenseReadout):
    """Two ResNet encoders; at every stage SAR and EO features attend to each other, the updated streams go
    on to the next stage, and their fusion is the skip (MAResU-Net attention on the skips as well). As a
    descriptor network each modality runs alone (the engine describes them separately), so the other stream
    is zero and the attention sees one modality."""

    def __init__(self, depth: int = 34, eo_channels: int = 1):
        super().__init__()
        self.eo_encoder = ResNetEncoder(depth, eo_channels)
        self.sar_encoder = ResNetEncoder(depth, 1)
        channels = self.eo_encoder.channels
        self.cross = nn.ModuleList([CrossModalAttention(c) for c in channels])
        self.attention = nn.ModuleList([AttentionBlock(c) for c in channels[:-1]])
        self.decoder = Decoder(channels, stem_stride=2)
        self.readout = nn.Conv2d(self.decoder.out_channels, DESCRIPTOR_DIM + 1, 1)

    def single(self, image, modality):
        zero = torch.zeros_like(image)
        eo, sar = (image, zero) if modality == "eo" else (zero, image)
        return self.decoder.features(self._skips(eo, sar), image.shape[-2:])

    def forward(self, eo, sar):
        skips = self._skips(eo, sar)
        return self.decoder(skips, (2 * skips[0].shape[-2], 2 * skips[0].shape[-1]))

    def _skips(self, eo, sar):
        skips = []
        for eo_stage, sar_stage, cross in zip(self.eo_encoder.stages, self.sar_encoder.stages, self.cross):
            eo, sar, fused = cross(eo_stage(eo), sar_stage(sar))
            skips.append(fused)
        return [block(s) for block, s in zip(self.attention, skips[:-1])] + skips[-1:]


class SiameseCorrelation(DenseReadout):
    """Our addition to the family: per modality, the structural matcher's CFOG-like features plus a small
    learned full-resolution encoder (its weight `mix` starts small and is learned), fused by the
    zero-normalised cross-correlation (ZNCC) of the EO template's descriptors over the SAR tile. It starts
    as the structural matcher and learns what to add. The scaled ZNCC at each shift is the heatmap logit;
    outside the correlated shifts it is very low."""

    def __init__(self, eo_channels: int = 1, width: int = 16, template_half: int = 24):
        super().__init__()
        from .torch_ops import CfogFeatures

        self.template_half = template_half
        self.cfog = CfogFeatures(2.0, 3.0)  # the smoothing it was trained with

        def encoder(in_channels):  # light and full resolution: 17 px receptive field, no normalisation layers
            return nn.Sequential(
                nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=2, dilation=2), nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=4, dilation=4))

        self.eo_encoder = encoder(eo_channels)
        self.sar_encoder = encoder(1)
        self.mix = nn.Parameter(torch.tensor(0.1))
        self.temperature = nn.Parameter(torch.tensor(20.0))
        self.readout = nn.Conv2d(width, DESCRIPTOR_DIM + 1, 1)

    def single(self, image, modality):
        return F.relu((self.eo_encoder if modality == "eo" else self.sar_encoder)(image))

    def _descriptors(self, image, encoder):
        fixed = self.cfog(image[:, :1].float())
        learned = F.normalize(encoder(image).float(), dim=1)
        return torch.cat([fixed, self.mix * learned], dim=1)

    def forward(self, eo, sar):
        from .torch_ops import zncc

        b, _, h, w = sar.shape
        ref, half = h // 2, self.template_half
        template = self._descriptors(eo, self.eo_encoder)[..., ref - half:ref + half, ref - half:ref + half]
        search = self._descriptors(sar, self.sar_encoder)
        nodata = (sar == 0).all(dim=1, keepdim=True).float()  # prepare_inputs sets nodata and padding to 0
        score = zncc(template, search, nodata) * self.temperature
        out = torch.full((b, 1, h, w), -30.0, device=sar.device, dtype=score.dtype)
        out[:, 0, ref - half:ref - half + score.shape[-2], ref - half:ref - half + score.shape[-1]] = score
        return out
