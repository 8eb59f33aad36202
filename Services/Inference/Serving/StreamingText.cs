using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Inference.Serving;

/// <summary>
/// Turns tokens, as they arrive, into text deltas that are safe to send: an incomplete UTF-8
/// character (shown as U+FFFD at the end) waits for its next byte, and text that could be the
/// start of a stop sequence waits until it is clear, so a stream never shows what the final
/// result cuts.
/// </summary>
internal sealed class StreamingText(ITokenizer tokenizer, IReadOnlyList<string> stopSequences)
{
    private readonly List<int> _tokens = [];
    private int _sent;

    /// <summary>The new text that can be sent after <paramref name="token"/>, or empty.</summary>
    public string Add(int token)
    {
        _tokens.Add(token);
        var text = tokenizer.Decode(_tokens);
        var safe = text.Length;
        while (safe > _sent && text[safe - 1] == '\uFFFD')
        {
            safe--;
        }

        safe -= HeldBackForStops(text[..safe]);
        return Take(text, safe);
    }

    /// <summary>Whatever of the final text has not been sent yet.</summary>
    public string Finish(GenerationResult result) => Take(result.Text, result.Text.Length);

    private string Take(string text, int upTo)
    {
        if (upTo <= _sent)
        {
            return "";
        }

        var delta = text[_sent..upTo];
        _sent = upTo;
        return delta;
    }

    /// <summary>Length of the longest suffix of <paramref name="text"/> that begins some stop sequence.</summary>
    private int HeldBackForStops(string text)
    {
        var held = 0;
        foreach (var stop in stopSequences)
        {
            for (var length = Math.Min(stop.Length, text.Length); length > held; length--)
            {
                if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    held = length;
                    break;
                }
            }
        }

        return held;
    }
}
