#!/usr/bin/env python3
"""The same GPT-2-style model in PyTorch, loaded from the GPT-2-layout safetensors the .NET bench
exports, timed on the same shapes. Prints one JSON object. Reads inputs.bin (int64) and
logits.bin (float32) from the weights folder to check that both stacks compute the same logits."""
import argparse, json, math, os, struct, statistics, time

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I8": np.int8}


def load_safetensors(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


class Block(torch.nn.Module):
    def __init__(self, width, heads, eps):
        super().__init__()
        self.heads = heads
        self.ln_1 = torch.nn.LayerNorm(width, eps=eps)
        self.c_attn = torch.nn.Linear(width, 3 * width)
        self.attn_proj = torch.nn.Linear(width, width)
        self.ln_2 = torch.nn.LayerNorm(width, eps=eps)
        self.c_fc = torch.nn.Linear(width, 4 * width)
        self.mlp_proj = torch.nn.Linear(4 * width, width)

    def forward(self, x):
        b, t, w = x.shape
        h, d = self.heads, w // self.heads
        q, k, v = self.c_attn(self.ln_1(x)).view(b, t, 3, h, d).permute(2, 0, 3, 1, 4)
        # torch 1.13 has no scaled_dot_product_attention: the explicit causal softmax.
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d)
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        y = scores.masked_fill(~causal, float("-inf")).softmax(-1) @ v
        x = x + self.attn_proj(y.transpose(1, 2).reshape(b, t, w))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        w, eps = config["n_embd"], config["layer_norm_epsilon"]
        self.wte = torch.nn.Embedding(config["vocab_size"], w)
        self.wpe = torch.nn.Embedding(config["n_positions"], w)
        self.h = torch.nn.ModuleList(Block(w, config["n_head"], eps) for _ in range(config["n_layer"]))
        self.ln_f = torch.nn.LayerNorm(w, eps=eps)

    def forward(self, tokens):
        x = self.wte(tokens) + self.wpe(torch.arange(tokens.shape[1]))
        for block in self.h:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.T

    def load_gpt2(self, tensors):
        own = {}
        for name, tensor in tensors.items():
            name = name.replace("attn.c_attn", "c_attn").replace("attn.c_proj", "attn_proj")
            name = name.replace("mlp.c_fc", "c_fc").replace("mlp.c_proj", "mlp_proj")
            # GPT-2 stores projections as Conv1D [in, out]; Linear wants [out, in].
            if name.endswith(("c_attn.weight", "attn_proj.weight", "c_fc.weight", "mlp_proj.weight")):
                tensor = tensor.t().contiguous()
            own[name] = tensor
        self.load_state_dict(own, strict=True)


def timed(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--train-batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = json.load(open(os.path.join(args.weights, "config.json")))
    model = Gpt(config)
    model.load_gpt2(load_safetensors(os.path.join(args.weights, "model.safetensors")))

    inputs = torch.from_numpy(np.fromfile(os.path.join(args.weights, "inputs.bin"), dtype=np.int64)).view(args.batch, args.steps)
    expected = torch.from_numpy(np.fromfile(os.path.join(args.weights, "logits.bin"), dtype=np.float32)).view(args.batch, args.steps, -1)
    model.eval()
    with torch.inference_mode():
        difference = (model(inputs) - expected).abs().max().item()
        forward_ms = timed(lambda: model(inputs), 2, args.repeats)

    model.train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    plain = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": plain, "weight_decay": 0.0}],
                                  lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    windows = torch.randint(config["vocab_size"], (args.train_batch, args.steps + 1))

    def train_step():
        optimizer.zero_grad()
        logits = model(windows[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    train_ms = timed(train_step, 2, args.repeats)
    blas = os.path.realpath("/etc/alternatives/libblas.so.3-x86_64-linux-gnu") if os.path.exists("/etc/alternatives/libblas.so.3-x86_64-linux-gnu") else "unknown"
    print(json.dumps({"torch": torch.__version__, "blas": blas, "threads": torch.get_num_threads(),
                      "forward_ms": forward_ms, "train_step_ms": train_ms, "max_abs_logit_diff": difference}))


if __name__ == "__main__":
    main()
