"""The user-facing choices, each defined once with what the fronts show of it: the CLI (every subcommand), the dock
and Processing list these (light imports only)."""

from __future__ import annotations

from enum import Enum
from typing import Tuple

from .errors import CoregError

DEVICES = ("auto", "cpu", "cuda")
RESAMPLINGS = ("bilinear", "nearest", "cubic")


class Choice(str, Enum):
    """A named choice: compares and serialises (JSON, argv) as its plain name."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def names(cls) -> Tuple[str, ...]:
        """The members' names, in order (what the command line and the dialogs list)."""
        return tuple(member.value for member in cls)

    @classmethod
    def parse(cls, text):
        """The member named `value`, or a one-line CoregError listing the choices."""
        try:
            return cls(text)
        except ValueError:
            raise CoregError(f"Unknown {cls.__name__.lower()} '{text}'. Choose one of: {', '.join(cls.names())}.") from None


class Matcher(Choice):
    """The dense engine's descriptors, and whether the choice needs a model (weights)."""

    def __new__(cls, value: str, needs_model: bool, description: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.needs_model = needs_model
        member.description = description
        return member

    STRUCTURAL = ("structural", False, "CFOG oriented gradients")
    LEARNED = ("learned", True, "a learned descriptor model")

    @classmethod
    def help(cls) -> str:
        """The matchers in one line, for help texts."""
        return "; ".join(f"{m.value}: {m.description}" for m in cls)


class Transform(Choice):
    """What writes the offsets: AUTO is the engine's dense field (on a re-fit, the first model of AUTO_RULE the
    points allow); every other member is that model fitted to the tie points, which needs `min_points`."""

    def __new__(cls, value: str, min_points: int):
        member = str.__new__(cls, value)
        member._value_ = value
        member.min_points = min_points
        return member

    AUTO = ("auto", 3)  # its simplest re-fit, affine, needs 3
    GRID = ("grid", 12)
    TPS = ("tps", 6)
    AFFINE = ("affine", 3)
    POLY1 = ("poly1", 3)
    POLY2 = ("poly2", 6)
    POLY3 = ("poly3", 10)
    PROJECTIVE = ("projective", 4)

    @classmethod
    def fits(cls) -> Tuple[Transform, ...]:
        """The models that can be fitted to tie points (all but AUTO)."""
        return tuple(m for m in cls if m is not cls.AUTO)

    @classmethod
    def for_points(cls, n_points: int) -> Transform:
        """The `auto` re-fit: the smooth grid where the points allow it, then simpler models."""
        return next((kind for kind, needed in AUTO_RULE if n_points >= needed), cls.AFFINE)

    def fitted_to(self, n_points: int) -> Transform:
        """The model this choice fits to `n_points` tie points: itself, or for AUTO the model its rule picks."""
        return Transform.for_points(n_points) if self is Transform.AUTO else self

    def require(self, n_points: int, advice: str = "") -> None:
        """Refuse fewer tie points than this model needs, in one line: the one wording of that rule. `advice`:
        what to do (default: enable more points, or a simpler transform)."""
        if n_points >= self.min_points:
            return
        simpler = ", or choose a simpler transform (affine needs 3)" if self.min_points > Transform.AFFINE.min_points else ""
        raise CoregError(f"Too few tie points for the '{self.value}' transform: {n_points} enabled, it needs at least "
                         f"{self.min_points}. {advice or f'Enable more points{simpler}.'}")

    @property
    def short(self) -> str:
        """A name that fits a narrow panel (the `label` goes into its tooltip)."""
        return "auto (dense field)" if self is Transform.AUTO else self.value

    @property
    def label(self) -> str:
        """How the dock and Processing list this choice (its rule or its minimum)."""
        if self is Transform.AUTO:
            rule = ", else ".join(f"{k} ≥ {n} points" for k, n in AUTO_RULE[:-1])
            return f"auto (the engine's dense field; a re-fit: {rule}, else {AUTO_RULE[-1][0]})"
        return f"{self.value} (needs ≥ {self.min_points} points)"


AUTO_RULE = ((Transform.GRID, 150), (Transform.TPS, 12), (Transform.POLY2, 8), (Transform.AFFINE, 3))
