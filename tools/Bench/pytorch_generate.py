#!/usr/bin/env python3
"""Greedy KV-cached generation in PyTorch on the GPT-2-layout weights the .NET int8 bench exports:
the same model as pytorch_gpt.py, decoding one token per step with preallocated key/value caches.
Prints one JSON object with tokens/s per batch size."""
import argparse, json, math, os, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_gpt import Gpt, load_safetensors  # noqa: E402


def forward_cached(model, tokens, keys, values, start):
    """Logits of the last position for tokens [b, t] continuing a cache filled up to start."""
    b, t = tokens.shape
    x = model.wte(tokens) + model.wpe(torch.arange(start, start + t))
    end = start + t
    for i, block in enumerate(model.h):
        h, d = block.heads, x.shape[-1] // block.heads
        q, k, v = block.c_attn(block.ln_1(x)).view(b, t, 3, h, d).permute(2, 0, 3, 1, 4)
        keys[i][:, :, start:end] = k
        values[i][:, :, start:end] = v
        k, v = keys[i][:, :, :end], values[i][:, :, :end]
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d)
        if t > 1:
            causal = torch.ones(t, end, dtype=torch.bool).tril(start)
            scores = scores.masked_fill(~causal, float("-inf"))
        y = scores.softmax(-1) @ v
        x = x + block.attn_proj(y.transpose(1, 2).reshape(b, t, h * d))
        x = x + block.mlp_proj(F.gelu(block.c_fc(block.ln_2(x)), approximate="tanh"))
    return model.ln_f(x[:, -1]) @ model.wte.weight.T


def generate(model, config, prompts, new_tokens):
    b, p = prompts.shape
    h = config["n_head"]
    d = config["n_embd"] // h
    keys = [torch.empty(b, h, p + new_tokens, d) for _ in model.h]
    values = [torch.empty(b, h, p + new_tokens, d) for _ in model.h]
    logits = forward_cached(model, prompts, keys, values, 0)
    for step in range(new_tokens - 1):
        token = logits.argmax(-1, keepdim=True)
        logits = forward_cached(model, token, keys, values, p + step)
    return b * new_tokens


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    config = json.load(open(os.path.join(args.weights, "config.json")))
    model = Gpt(config)
    model.load_gpt2(load_safetensors(os.path.join(args.weights, "model.safetensors")))
    model.eval()
    result = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    generator = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        for batch in (int(value) for value in args.batches.split(",")):
            prompts = torch.randint(256, (batch, args.prompt), generator=generator)
            generate(model, config, prompts, args.new_tokens)  # warm-up
            start = time.perf_counter()
            tokens = sum(generate(model, config, prompts, args.new_tokens) for _ in range(args.repeats))
            result[f"batch{batch}_tokens_per_s"] = tokens / (time.perf_counter() - start)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
