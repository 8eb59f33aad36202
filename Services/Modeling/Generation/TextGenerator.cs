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
            Validate(request);
        }

        using var inference = inference_mode();
        var sequences = requests.Select(request => new Sequence(request)).ToList();
        var longest = sequences.Max(sequence => sequence.Request.Prompt.Count);
        var pads = sequences.Select(sequence => (long)(longest - sequence.Request.Prompt.Count)).ToArray();
        var cache = new KvCache(model.Config, sequences.Count, model.Device, model.DType, pads);
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

    private void Validate(GenerationRequest request)
    {
        request.Options.Validate();
        var length = request.Prompt.Count;
        if (length == 0)
        {
            throw new ArgumentException("the prompt is empty", nameof(request));
        }

        if (length >= model.Config.ContextLength)
        {
            throw new ArgumentException($"the prompt has {length} tokens; the model's context length is {model.Config.ContextLength}, so prompts must be shorter", nameof(request));
        }

        if (request.Prompt.Any(id => id < 0 || id >= model.Config.VocabSize))
        {
            throw new ArgumentException($"the prompt contains token ids outside the vocabulary (0-{model.Config.VocabSize - 1})", nameof(request));
        }
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
        model.Logits(tokens, cache).select(1, -1).to(float32).cpu();

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

    private sealed class Sequence(GenerationRequest request)
    {
        private readonly List<int> _tokens = [];
        private string? _stoppedText;

        public GenerationRequest Request => request;

        public TokenSampler Sampler { get; } = new(request.Options);

        public FinishReason? Reason { get; private set; }

        public bool Finished => Reason is not null;

        public void Accept(int token, ITokenizer tokenizer, bool contextFull)
        {
            _tokens.Add(token);
            if (token == tokenizer.EndOfTextId)
            {
                _tokens.RemoveAt(_tokens.Count - 1);
                Reason = FinishReason.EndOfText;
                return;
            }

            if (request.Options.StopSequences.Count > 0)
            {
                var text = tokenizer.Decode(_tokens);
                var stopAt = request.Options.StopSequences
                    .Select(stop => text.IndexOf(stop, StringComparison.Ordinal))
                    .Where(index => index >= 0)
                    .DefaultIfEmpty(-1)
                    .Min();
                if (stopAt >= 0)
                {
                    _stoppedText = text[..stopAt];
                    Reason = FinishReason.Stop;
                    return;
                }
            }

            if (_tokens.Count >= request.Options.MaxNewTokens)
            {
                Reason = FinishReason.Length;
            }
            else if (contextFull)
            {
                // The cache holds the whole context: the token just sampled cannot be fed back.
                Reason = FinishReason.ContextFull;
            }
        }

        public GenerationResult ToResult(ITokenizer tokenizer) =>
            new(_tokens, _stoppedText ?? tokenizer.Decode(_tokens), Reason ?? FinishReason.Length, request.Prompt.Count);
    }
}
