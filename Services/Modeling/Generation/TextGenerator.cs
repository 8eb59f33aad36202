using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Tokenizers;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Generation;

/// <summary>
/// KV-cached autoregressive generation for a batch of prompts of different lengths: prompts are
/// left-padded and prefilled together, then each step decodes one token per running sequence.
/// A sequence that finishes leaves the batch (its cache rows are dropped), so the others run on.
/// </summary>
public sealed class TextGenerator(GptModel model, ITokenizer tokenizer)
{
    public GptModel Model => model;

    public ITokenizer Tokenizer => tokenizer;

    public GenerationResult Generate(string prompt, GenerationOptions options, CancellationToken cancellationToken = default) =>
        Generate([new GenerationRequest(tokenizer.Encode(prompt), options)], cancellationToken)[0];

    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<GenerationRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(requests.Count);
        foreach (var request in requests)
        {
            Sequence.Validate(request, model.Config);
        }

        using var inference = inference_mode();
        var sequences = requests.Select(request => new Sequence(request)).ToList();
        var longest = sequences.Max(sequence => sequence.Request.Prompt.Count);
        var pads = sequences.Select(sequence => (long)(longest - sequence.Request.Prompt.Count)).ToArray();
        // Room for the prompts and the longest answer, not the whole context: allocating the
        // whole context for every row made prefill several times slower (see KvCache).
        var capacity = Math.Min(model.Config.ContextLength, longest + sequences.Max(sequence => sequence.Request.Options.MaxNewTokens));
        var cache = new KvCache(model.Config, sequences.Count, model.Device, model.DType, pads, capacity);
        var running = Enumerable.Range(0, sequences.Count).ToList();
        try
        {
            var logits = Prefill(sequences, longest, cache);
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var next = SampleAll(sequences, running, logits, cache);
                logits.Dispose();

                var stillRunning = Enumerable.Range(0, running.Count).Where(row => !sequences[running[row]].Finished).ToList();
                if (stillRunning.Count == 0)
                {
                    break;
                }

                if (stillRunning.Count < running.Count)
                {
                    var narrowed = cache.Select(stillRunning);
                    cache.Dispose();
                    cache = narrowed;
                    next = stillRunning.Select(row => next[row]).ToArray();
                    running = stillRunning.Select(row => running[row]).ToList();
                }

                logits = Decode(next, cache);
            }
        }
        finally
        {
            cache.Dispose();
            sequences.ForEach(sequence => sequence.Sampler.Dispose());
        }

        return sequences.Select(sequence => sequence.ToResult(tokenizer)).ToList();
    }

    private Tensor Prefill(List<Sequence> sequences, int longest, KvCache cache)
    {
        using var scope = NewDisposeScope();
        var ids = new long[sequences.Count * longest];
        for (var row = 0; row < sequences.Count; row++)
        {
            var prompt = sequences[row].Request.Prompt;
            var offset = row * longest + (longest - prompt.Count);
            for (var i = 0; i < prompt.Count; i++)
            {
                ids[offset + i] = prompt[i];
            }
        }

        var tokens = tensor(ids, [sequences.Count, longest], device: model.Device);
        return LastLogits(tokens, cache).MoveToOuterDisposeScope();
    }

    private Tensor Decode(int[] next, KvCache cache)
    {
        using var scope = NewDisposeScope();
        var tokens = tensor(next.Select(id => (long)id).ToArray(), [next.Length, 1], device: model.Device);
        return LastLogits(tokens, cache).MoveToOuterDisposeScope();
    }

    /// <summary>Logits of each row's last position, as float32 on the CPU for sampling.</summary>
    private Tensor LastLogits(Tensor tokens, KvCache cache) =>
        model.NextTokenLogits(tokens, cache).to(float32).cpu();

    private int[] SampleAll(List<Sequence> sequences, List<int> running, Tensor logits, KvCache cache)
    {
        using var scope = NewDisposeScope();
        var greedy = logits.argmax(1).data<long>().ToArray();
        var next = new int[running.Count];
        var contextFull = cache.Length >= model.Config.ContextLength;
        for (var row = 0; row < running.Count; row++)
        {
            var sequence = sequences[running[row]];
            next[row] = sequence.Request.Options.IsGreedy ? (int)greedy[row] : sequence.Sampler.Sample(logits[row]);
            sequence.Accept(next[row], tokenizer, contextFull);
        }

        return next;
    }
}
