using MsSwift.Modeling.Quantization;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MsSwift.Modeling.Gpt;

/// <summary>
/// A GPT-2-style decoder-only transformer: token + position embeddings, pre-LayerNorm blocks with
/// causal multi-head self-attention and a GELU MLP, a final LayerNorm, and an output head tied to
/// the token embedding. Parameter names match GPT-2's (<c>wte</c>, <c>h.0.attn.c_attn</c>, ...).
/// </summary>
public sealed class GptModel : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> wte;
    private readonly Embedding wpe;
    private readonly ModuleList<TransformerBlock> h;
    private readonly LayerNorm ln_f;

    /// <param name="config">The shape; validated here.</param>
    /// <param name="quantized">Build int8 weight-only linear layers (filled by <see cref="Int8Quantizer"/>).</param>
    public GptModel(GptConfig config, bool quantized = false) : base(nameof(GptModel))
    {
        Config = config.Validate();
        IsInt8 = quantized;
        LinearFactory linear = quantized
            ? (inputs, outputs) => new Int8Linear(inputs, outputs)
            : (inputs, outputs) => Linear(inputs, outputs);
        lock (Initialization)
        {
            wte = quantized ? new Int8Embedding(config.VocabSize, config.Width) : Embedding(config.VocabSize, config.Width);
            wpe = Embedding(config.ContextLength, config.Width);
            h = ModuleList(Enumerable.Range(0, config.Layers).Select(layer => new TransformerBlock(config, layer, linear)).ToArray());
            ln_f = LayerNorm(config.Width, config.LayerNormEpsilon);
            RegisterComponents();
            InitializeWeights();
        }
    }

    /// <summary>
    /// Random initialisation draws from libtorch's one global generator. Every construction holds
    /// this lock while it draws, and a seeded one also while it seeds, so two models built at once
    /// on different threads (two jobs led by one coordinator, an evaluator, a test next door)
    /// cannot interleave their draws: a seed gives the same weights whatever else runs.
    /// </summary>
    private static readonly Lock Initialization = new();

    /// <summary>A model whose initial weights depend on <paramref name="seed"/> only.</summary>
    public static GptModel CreateSeeded(GptConfig config, long seed)
    {
        lock (Initialization)
        {
            manual_seed(seed);
            return new GptModel(config);
        }
    }

    public GptConfig Config { get; }

    public bool IsInt8 { get; }

    // wpe, not wte: the token embedding is int8 in a quantized model.
    public Device Device
    {
        get
        {
            // Embedding.weight is a new wrapper per call; held until the native call returns.
            using var weight = wpe.weight!;
            return weight.device;
        }
    }

    public ScalarType DType
    {
        get
        {
            using var weight = wpe.weight!;
            return weight.dtype;
        }
    }

    /// <summary>Logits [batch, steps, vocab] for token ids [batch, steps], attending causally.</summary>
    public override Tensor forward(Tensor tokens) => Logits(tokens, cache: null);

    /// <summary>
    /// Logits for <paramref name="tokens"/> [batch, steps]. With a <paramref name="cache"/>, the
    /// tokens continue the cached prefix (their keys and values are appended to it).
    /// </summary>
    public Tensor Logits(Tensor tokens, KvCache? cache) => Head(ln_f.forward(Hidden(tokens, cache)));

    /// <summary>
    /// The logits [batch, vocab] of the token after <paramref name="tokens"/> only: what a prefill
    /// needs. The head runs on the last position alone; with GPT-2's 50257-token vocabulary it is
    /// about a third of a prompt's arithmetic when run on every position.
    /// </summary>
    public Tensor NextTokenLogits(Tensor tokens, KvCache cache) => Head(ln_f.forward(Hidden(tokens, cache).select(1, -1)));

    /// <summary>The last block's output [batch, steps, width]; the cache, if any, advanced past the tokens.</summary>
    private Tensor Hidden(Tensor tokens, KvCache? cache)
    {
        var batch = tokens.shape[0];
        var steps = tokens.shape[1];
        var past = cache?.Length ?? 0;
        if (past + steps > Config.ContextLength)
        {
            throw new ArgumentException($"{past + steps} tokens exceed the model's context length of {Config.ContextLength}", nameof(tokens));
        }

        var absolute = arange(past, past + steps, dtype: int64, device: tokens.device).unsqueeze(0);
        Tensor positions = absolute;
        Tensor? mask = null;
        if (cache is not null && (cache.HasPadding || (past > 0 && steps > 1)))
        {
            var pads = tensor(cache.PadLengths, device: tokens.device).view(batch, 1);
            positions = (absolute - pads).clamp_min(0);
            mask = AttentionMask(absolute, pads.view(batch, 1, 1, 1), past + steps);
        }

        var x = wte.forward(tokens) + wpe.forward(positions);
        foreach (var block in h)
        {
            x = block.Forward(x, cache, mask);
        }

        cache?.Advance((int)steps);
        return x;
    }

    /// <summary>
    /// One decode step for the occupied slots of a <see cref="SlotKvCache"/>: <paramref name="tokens"/>
    /// [rows, 1] holds each one's latest token, row i for slot <see cref="SlotKvCache.OccupiedSlots"/>()[i].
    /// Returns logits [rows, 1, vocab]. Each row sees its own prefix and the new token, nothing beyond
    /// (the cache masks and groups the rows by length).
    /// </summary>
    public Tensor DecodeSlots(Tensor tokens, SlotKvCache cache)
    {
        var rows = tokens.shape[0];
        if (rows != cache.ActiveRows)
        {
            throw new ArgumentException($"{rows} tokens for {cache.ActiveRows} occupied slots", nameof(tokens));
        }

        var positions = tensor(cache.BeginStep(tokens.device), device: tokens.device).view(rows, 1);
        var x = wte.forward(tokens) + wpe.forward(positions);
        foreach (var block in h)
        {
            x = block.Forward(x, cache, mask: null);
        }

        cache.EndStep();
        return Head(ln_f.forward(x));
    }

    /// <summary>The output head, tied to the token embedding.</summary>
    private Tensor Head(Tensor x) => wte is Int8Embedding table ? table.Project(x) : functional.linear(x, ((Embedding)wte).weight!);

    /// <summary>Bytes of every weight, buffer and scale the model holds: what a loaded version occupies.</summary>
    public long WeightBytes() =>
        parameters().Cast<Tensor>().Concat(buffers()).Sum(tensor => tensor.NumberOfElements * tensor.ElementSize);

    /// <summary>The bytes held by the linear layers' weights (int8 values plus their scales when quantized).</summary>
    public long LinearWeightBytes() =>
        modules().Sum(module => module switch
        {
            Int8Linear int8 => int8.WeightBytes,
            Linear linear => linear.weight!.NumberOfElements * linear.weight.ElementSize,
            _ => 0L,
        });

    /// <summary>
    /// True where a query may attend to a key: causal, and never to a row's left padding (a pad
    /// query still sees itself so that softmax stays finite; its output is never used).
    /// </summary>
    private static Tensor AttentionMask(Tensor queryPositions, Tensor pads, long keys)
    {
        var keyIndex = arange(keys, dtype: int64, device: queryPositions.device).view(1, 1, 1, keys);
        var queryIndex = queryPositions.view(1, 1, -1, 1);
        var causal = keyIndex.le(queryIndex);
        var notPadding = keyIndex.ge(pads);
        return causal.logical_and(notPadding.logical_or(keyIndex.eq(queryIndex)));
    }

    /// <summary>GPT-2's initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2 x layers).</summary>
    private void InitializeWeights()
    {
        using var _ = no_grad();
        var residualStd = 0.02 / Math.Sqrt(2.0 * Config.Layers);
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.EndsWith(".bias", StringComparison.Ordinal))
            {
                init.zeros_(parameter);
            }
            else if (name.Contains("ln_", StringComparison.Ordinal))
            {
                init.ones_(parameter);
            }
            else
            {
                init.normal_(parameter, 0, name.EndsWith("c_proj.weight", StringComparison.Ordinal) ? residualStd : 0.02);
            }
        }
    }
}
