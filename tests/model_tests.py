"""Shared tiny-config model checks (diffusers' tester-mixin idea, without its mixin stack).

A test class sets ``make_config``/``build``/``make_inputs``/``run`` and inherits these checks: output shape and dtype,
determinism, backward reaching every parameter, safetensors round trip, and meta-device construction followed by
``to_empty`` + ``init_weights`` matching an eagerly built model.
"""

import copy

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def perturb_(model: nn.Module, *, seed: int = 0, scale: float = 0.05) -> nn.Module:
    """Add small noise to every parameter, so zero-initialised branches (adaLN-Zero) carry signal in tests."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(scale * torch.randn(param.shape, generator=gen, dtype=param.dtype))
    return model


class ModelTests:
    def build(self) -> nn.Module:
        raise NotImplementedError

    def make_inputs(self, *, seed: int = 0) -> dict:
        raise NotImplementedError

    def run(self, model: nn.Module, inputs: dict) -> torch.Tensor:
        raise NotImplementedError

    def expected_shape(self, inputs: dict) -> tuple[int, ...]:
        raise NotImplementedError

    def make_model(self) -> nn.Module:
        torch.manual_seed(0)
        model = self.build()
        model.init_weights()
        return perturb_(model)

    def test_output_shape_and_dtype(self):
        model = self.make_model()
        inputs = self.make_inputs()
        out = self.run(model, inputs)
        assert out.shape == self.expected_shape(inputs)
        assert out.dtype == torch.float32
        assert torch.isfinite(out).all()

    def test_float64_in_float64_out(self):
        model = self.make_model().double()
        inputs = {
            k: v.double() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in self.make_inputs().items()
        }
        assert self.run(model, inputs).dtype == torch.float64

    def test_deterministic_and_input_dependent(self):
        model = self.make_model().eval()
        a = self.run(model, self.make_inputs(seed=0))
        b = self.run(model, self.make_inputs(seed=0))
        c = self.run(model, self.make_inputs(seed=1))
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert not torch.allclose(a, c)

    def test_backward_reaches_every_parameter(self):
        model = self.make_model()
        self.run(model, self.make_inputs()).square().mean().backward()
        missing = [name for name, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
        assert not missing, f"no finite gradient for {missing}"

    def test_safetensors_round_trip(self, tmp_path):
        model = self.make_model().eval()
        path = tmp_path / "model.safetensors"
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
        torch.manual_seed(123)
        other = self.build()
        other.init_weights()
        other.load_state_dict(load_file(str(path)))
        other.eval()
        inputs = self.make_inputs()
        torch.testing.assert_close(self.run(other, inputs), self.run(model, inputs), rtol=0, atol=0)

    def test_meta_init_matches_eager_init(self):
        eager = self.build()
        torch.manual_seed(7)  # init_weights must own every parameter's value: same seed, same weights
        eager.init_weights()
        with torch.device("meta"):
            lazy = self.build()
        assert all(p.is_meta for p in lazy.parameters())
        lazy.to_empty(device="cpu")
        torch.manual_seed(7)
        lazy.init_weights()
        eager_state, lazy_state = eager.state_dict(), lazy.state_dict()
        assert eager_state.keys() == lazy_state.keys()
        for key in eager_state:
            torch.testing.assert_close(lazy_state[key], eager_state[key], rtol=0, atol=0, msg=key)

    def test_copy_is_independent(self):
        model = self.make_model()
        clone = copy.deepcopy(model)
        with torch.no_grad():
            next(clone.parameters()).add_(1.0)
        assert not torch.equal(next(clone.parameters()), next(model.parameters()))
