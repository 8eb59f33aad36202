using System.Text;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Inference.Serving;

/// <summary>
/// Turns tokens, as they arrive, into text deltas that are safe to send: an incomplete UTF-8
/// character (shown as U+FFFD at the end) waits for its next byte, and text that could be the
/// start of a stop sequence waits until it is clear, so a stream never shows what the final
/// result cuts.
/// </summary>
/// <remarks>
/// The work per token stays bounded, so a stream costs time linear in its length: only the
/// tokens since the last clean cut (a point after which no later token can change the text
/// before it) are decoded again, and only the text not sent yet is kept. This relies on
/// byte-level decoding, as the byte and GPT-2 tokenizers do: the text of tokens is the UTF-8
/// decoding of their bytes one after the other.
/// </remarks>
internal sealed class StreamingText(ITokenizer tokenizer, IReadOnlyList<string> stopSequences)
{
    // A UTF-8 character has at most 4 bytes and a token at least 1: beyond this many pending
    // tokens a clean cut is looked for among them even while the text still ends in U+FFFD.
    private const int MaxPendingTokens = 8;

    private readonly List<int> _pending = [];
    private readonly StringBuilder _committed = new();
    private int _committedStart;
    private int _sent;

    /// <summary>The new text that can be sent after <paramref name="token"/>, or empty.</summary>
    public string Add(int token)
    {
        _pending.Add(token);
        var tail = tokenizer.Decode(_pending);
        if (!tail.EndsWith('\uFFFD'))
        {
            Commit(_pending.Count, tail);
            tail = "";
        }
        else if (_pending.Count > MaxPendingTokens)
        {
            tail = CommitCleanPrefix(tail);
        }

        // The visible text runs from _committedStart: what is committed and not sent, then the
        // pending tail without its unfinished character.
        var visible = _committed.ToString() + tail.TrimEnd('\uFFFD');
        var safe = visible.Length - HeldBackForStops(visible.AsSpan(Math.Min(visible.Length, _sent - _committedStart)));
        var delta = Take(visible, _committedStart, _committedStart + safe);
        var sentCommitted = Math.Min(_committed.Length, _sent - _committedStart);
        _committed.Remove(0, sentCommitted);
        _committedStart += sentCommitted;
        return delta;
    }

    /// <summary>Whatever of the final text has not been sent yet.</summary>
    public string Finish(GenerationResult result) => Take(result.Text, 0, result.Text.Length);

    /// <summary>Moves the first <paramref name="count"/> pending tokens, whose text is <paramref name="text"/>, into the committed text.</summary>
    private void Commit(int count, string text)
    {
        _committed.Append(text);
        _pending.RemoveRange(0, count);
    }

    /// <summary>Commits the longest pending prefix whose text no later token can change; returns the remaining tail's text.</summary>
    private string CommitCleanPrefix(string tail)
    {
        for (var cut = _pending.Count - 1; cut > 0; cut--)
        {
            var head = tokenizer.Decode(_pending.GetRange(0, cut));
            var rest = tokenizer.Decode(_pending.GetRange(cut, _pending.Count - cut));
            if (string.Concat(head, rest) == tail)
            {
                Commit(cut, head);
                return rest;
            }
        }

        return tail;
    }

    /// <summary>Sends <paramref name="text"/> (which starts at <paramref name="start"/> in the whole text) from what was sent up to <paramref name="upTo"/>.</summary>
    private string Take(string text, int start, int upTo)
    {
        if (upTo <= _sent)
        {
            return "";
        }

        var delta = text[(_sent - start)..(upTo - start)];
        _sent = upTo;
        return delta;
    }

    /// <summary>
    /// Length of the longest suffix of <paramref name="unsent"/> that begins some stop sequence.
    /// Sent text never has to be looked at: it was sent because no suffix of it began one.
    /// </summary>
    private int HeldBackForStops(ReadOnlySpan<char> unsent)
    {
        var held = 0;
        foreach (var stop in stopSequences)
        {
            for (var length = Math.Min(stop.Length, unsent.Length); length > held; length--)
            {
                if (unsent[^length..].SequenceEqual(stop.AsSpan(0, length)))
                {
                    held = length;
                    break;
                }
            }
        }

        return held;
    }
}
