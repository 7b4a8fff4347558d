"""Kernel-level profile of the transformer-block training step (as ../shared/bench/gpu.py's
transformer_block_train_bf16) in our package and in PyTorch, for comparing where GPU time goes.

    MLX_CUDA_PROFILE=1 python benchmarks/gpu_step_profile.py mlx    # table printed at exit
    python benchmarks/gpu_step_profile.py torch                      # torch.profiler table
Both run STEPS steps after one warm-up step.
"""
import sys
import time

import numpy as np

B, L, D, H = 8, 1024, 1024, 16
STEPS = 10


def mlx_block_step():
    """gpu.py's transformer-block training step in our package: (step, block, optimizer, x, loss_grad)."""
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim

    rng = np.random.default_rng(0)
    bf = mx.bfloat16
    blk = nn.TransformerEncoderLayer(D, H, 4 * D, dropout=0.0, norm_first=True)
    blk.set_dtype(bf)
    opt = optim.AdamW(learning_rate=1e-4)
    x = mx.array(rng.standard_normal((B, L, D), dtype=np.float32)).astype(bf)
    mask = nn.MultiHeadAttention.create_additive_causal_mask(L).astype(bf)
    lg = nn.value_and_grad(blk, lambda mdl, v: (mdl(v, mask).astype(mx.float32) ** 2).mean())

    def step():
        loss, g = lg(blk, x)
        opt.update(blk, g)
        mx.async_eval(loss, blk.parameters(), opt.state)

    return step, blk, opt, x, lg


def run_mlx():
    import mlx.core as mx

    step = mlx_block_step()[0]
    for _ in range(3):
        step()
    mx.synchronize()
    # Host time queuing 20 steps, then the wait for the GPU to finish them: a wait near 0
    # means the step is bound by the host (graph building and dispatch), not the GPU.
    t = time.perf_counter()
    for _ in range(20):
        step()
    th = time.perf_counter()
    mx.synchronize()
    tw = time.perf_counter()
    print(f"mlx host {(th - t) / 20 * 1e3:.3f} ms/step queuing, then {(tw - th) * 1e3:.3f} ms waiting "
          f"for the GPU ({(tw - t) / 20 * 1e3:.3f} ms/step)", flush=True)
    mx.cuda._profile_reset()
    t = time.perf_counter()
    for _ in range(STEPS):
        step()
    mx.synchronize()
    print(f"mlx step {(time.perf_counter() - t) / STEPS * 1e3:.3f} ms (profiled totals below cover "
          f"{STEPS} steps)", flush=True)


def run_torch():
    import torch
    from torch.profiler import ProfilerActivity, profile

    dev = "cuda"
    rng = np.random.default_rng(0)
    blk = torch.nn.TransformerEncoderLayer(D, H, 4 * D, dropout=0.0, batch_first=True,
                                           norm_first=True).to(dev, torch.bfloat16)
    opt = torch.optim.AdamW(blk.parameters(), lr=1e-4)
    x = torch.from_numpy(rng.standard_normal((B, L, D), dtype=np.float32)).to(dev, torch.bfloat16)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(L, device=dev, dtype=torch.bfloat16)

    def step():
        opt.zero_grad(set_to_none=True)
        (blk(x, src_mask=mask).float() ** 2).mean().backward()
        opt.step()

    step()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(STEPS):
        step()
    torch.cuda.synchronize()
    print(f"torch step {(time.perf_counter() - t) / STEPS * 1e3:.3f} ms", flush=True)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(STEPS):
            step()
        torch.cuda.synchronize()
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=40, max_name_column_width=90))


if __name__ == "__main__":
    run_mlx() if sys.argv[1] == "mlx" else run_torch()
