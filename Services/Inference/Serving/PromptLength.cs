using System.Collections.Concurrent;
using System.Text;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Inference.Serving;

/// <summary>
/// Tells from a prompt's byte length alone that it cannot fit a model's context, so an oversized
/// input is refused without being decoded or tokenised. No token of a tokenizer stands for more
/// than <see cref="MaxBytesPerToken"/> bytes of UTF-8, so a prompt of B bytes has at least
/// ceil(B / that) tokens; when that is already the context length or more, tokenising would
/// refuse the prompt anyway (<see cref="CannotFit"/>). Nothing that would fit is refused.
/// </summary>
internal static class PromptLength
{
    private static readonly ConcurrentDictionary<string, int> Measured = new(StringComparer.Ordinal);

    /// <summary>True when a prompt of <paramref name="promptBytes"/> bytes has at least <paramref name="contextLength"/> tokens whatever they are.</summary>
    public static bool CannotFit(ITokenizer tokenizer, int contextLength, long promptBytes) =>
        // Fewer bytes than the context holds tokens always fit: no need to measure the tokenizer.
        promptBytes >= contextLength && MinTokens(tokenizer, promptBytes) >= contextLength;

    /// <summary>The fewest tokens a prompt of <paramref name="promptBytes"/> bytes can have.</summary>
    public static long MinTokens(ITokenizer tokenizer, long promptBytes)
    {
        long longest = MaxBytesPerToken(tokenizer);
        return (promptBytes + longest - 1) / longest;
    }

    /// <summary>
    /// The longest token in UTF-8 bytes, measured once per tokenizer by decoding each token
    /// alone. A token that is part of a character decodes to U+FFFD (3 bytes), never to fewer
    /// bytes than it stands for, so the measure is an upper bound.
    /// </summary>
    public static int MaxBytesPerToken(ITokenizer tokenizer) => tokenizer is ByteTokenizer
        ? 1
        : Measured.GetOrAdd(tokenizer.Id, _ => Enumerable.Range(0, tokenizer.VocabSize).Max(id => Encoding.UTF8.GetByteCount(tokenizer.Decode([id]))));
}
