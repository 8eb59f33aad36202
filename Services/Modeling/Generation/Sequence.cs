using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Modeling.Generation;

/// <summary>
/// One sequence being generated: its tokens so far, its sampler, and the rules that end it
/// (end-of-text, a stop sequence, MaxNewTokens, the context length).
/// </summary>
internal sealed class Sequence(GenerationRequest request)
{
    private readonly List<int> _tokens = [];
    private string? _stoppedText;

    public GenerationRequest Request => request;

    /// <summary>The last token generated (the one to feed back next).</summary>
    public int LastToken => _tokens[^1];

    public int GeneratedCount => _tokens.Count;

    /// <summary>Throws <see cref="ArgumentException"/> for options or a prompt the model cannot take.</summary>
    public static void Validate(GenerationRequest request, GptConfig config)
    {
        request.Options.Validate();
        var length = request.Prompt.Count;
        if (length == 0)
        {
            throw new ArgumentException("the prompt is empty", nameof(request));
        }

        if (length >= config.ContextLength)
        {
            throw new ArgumentException($"the prompt has {length} tokens; the model's context length is {config.ContextLength}, so prompts must be shorter", nameof(request));
        }

        if (request.Prompt.Any(id => id < 0 || id >= config.VocabSize))
        {
            throw new ArgumentException($"the prompt contains token ids outside the vocabulary (0-{config.VocabSize - 1})", nameof(request));
        }
    }

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

        if (request.Options.StopSequences.Count > 0 && FindStop(tokenizer) is { } stopAt)
        {
            _stoppedText = stopAt.Text[..stopAt.Index];
            Reason = FinishReason.Stop;
            return;
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

    /// <summary>
    /// The output and where its first stop sequence starts, or null. A stop that was not there one
    /// token ago can only lie in the output's tail, so only the tail is decoded each token (a UTF-16
    /// unit takes at most 3 bytes, a token at least one byte, and a character cut at the tail's
    /// start at most 3 more), and the whole output only when the tail holds a stop: checking every
    /// token stays linear in the output's length instead of quadratic.
    /// </summary>
    private (string Text, int Index)? FindStop(ITokenizer tokenizer)
    {
        var stops = request.Options.StopSequences;
        var tail = Math.Min(_tokens.Count, 3 * stops.Max(stop => stop.Length) + 4);
        var recent = tokenizer.Decode(_tokens.GetRange(_tokens.Count - tail, tail));
        if (!stops.Any(stop => recent.Contains(stop, StringComparison.Ordinal)))
        {
            return null;
        }

        var text = tokenizer.Decode(_tokens);
        var index = stops.Select(stop => text.IndexOf(stop, StringComparison.Ordinal)).Where(found => found >= 0).DefaultIfEmpty(-1).Min();
        return index >= 0 ? (text, index) : null;
    }

    public GenerationResult ToResult(ITokenizer tokenizer) =>
        new(_tokens, _stoppedText ?? tokenizer.Decode(_tokens), Reason ?? FinishReason.Length, request.Prompt.Count);
}
