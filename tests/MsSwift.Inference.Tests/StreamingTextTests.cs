using System.Text;
using MsSwift.Inference.Serving;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Inference.Tests;

/// <summary>Streamed text: what is sent adds up to the final text, and the decoding work grows linearly with the output.</summary>
public sealed class StreamingTextTests
{
    private const string Mixed = "plain ascii, naïve café, 東京タワー, emoji 🙂🚀 and more; ";

    [Theory]
    [InlineData(1_000)]
    [InlineData(8_000)]
    public void Decoding_work_per_token_stays_bounded_however_long_the_stream(int length)
    {
        var tokenizer = new CountingTokenizer(new ByteTokenizer());
        var tokens = Bytes(length);

        var streamed = string.Concat(Deltas(tokenizer, tokens, out _));

        Assert.Equal(Encoding.UTF8.GetString(tokens.Select(token => (byte)token).ToArray()), streamed);
        // One decode per token of at most the bytes of one character (4), whatever the length.
        Assert.True(tokenizer.TokensDecoded <= 4L * tokens.Count, $"{tokens.Count} tokens needed {tokenizer.TokensDecoded} tokens decoded");
    }

    [Fact]
    public void A_long_run_of_invalid_bytes_is_streamed_with_bounded_work_and_as_the_final_text_shows_it()
    {
        var tokenizer = new CountingTokenizer(new ByteTokenizer());
        // Continuation bytes with nothing to continue: every one decodes to U+FFFD, forever "unfinished".
        var tokens = Bytes(100).Concat(Enumerable.Repeat(0x80, 5_000)).Concat(Bytes(100)).ToList();

        var deltas = Deltas(tokenizer, tokens, out var final);

        Assert.Equal(final, string.Concat(deltas));
        Assert.True(deltas.Count > 100, "the invalid run should be streamed as it comes, not only at the end");
        Assert.True(tokenizer.TokensDecoded <= 32L * tokens.Count, $"{tokens.Count} tokens needed {tokenizer.TokensDecoded} tokens decoded");
    }

    [Fact]
    public void Gpt2_tokens_that_split_characters_stream_to_the_final_text_and_never_show_a_partial_character()
    {
        var gpt2 = new Gpt2Tokenizer();
        var tokenizer = new CountingTokenizer(gpt2);
        var text = string.Concat(Enumerable.Repeat(Mixed, 40));
        var tokens = gpt2.Encode(text).ToList();

        var deltas = Deltas(tokenizer, tokens, out var final);

        Assert.Equal(text, final);
        Assert.Equal(text, string.Concat(deltas));
        Assert.DoesNotContain(deltas, delta => delta.Contains('\uFFFD'));
        Assert.True(tokenizer.TokensDecoded <= 4L * tokens.Count, $"{tokens.Count} tokens needed {tokenizer.TokensDecoded} tokens decoded");
    }

    [Fact]
    public void Text_that_may_begin_a_stop_sequence_waits_and_what_the_result_cuts_is_never_sent()
    {
        var tokenizer = new ByteTokenizer();
        var tokens = tokenizer.Encode("one two thr three END after").ToList();
        var text = new StreamingText(tokenizer, ["three END"]);
        var sent = new StringBuilder();
        foreach (var token in tokens.Take("one two thr three END".Length))
        {
            sent.Append(text.Add(token));
        }

        var beforeFinish = sent.ToString();
        sent.Append(text.Finish(new GenerationResult(tokens, "one two thr ", FinishReason.Stop, 0)));

        Assert.Equal("one two thr ", beforeFinish);
        Assert.Equal("one two thr ", sent.ToString());
    }

    private static List<int> Bytes(int length)
    {
        var bytes = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(Mixed, length / Mixed.Length + 1)));
        return bytes.Take(length).Select(value => (int)value).ToList();
    }

    /// <summary>Every delta sent for <paramref name="tokens"/>, the finish included; <paramref name="final"/> is the result's text (decoded uncounted).</summary>
    private static List<string> Deltas(CountingTokenizer tokenizer, IReadOnlyList<int> tokens, out string final)
    {
        var text = new StreamingText(tokenizer, []);
        var deltas = tokens.Select(text.Add).Where(delta => delta.Length > 0).ToList();
        final = tokenizer.Inner.Decode(tokens);
        deltas.Add(text.Finish(new GenerationResult(tokens, final, FinishReason.Length, 0)));
        return deltas;
    }
}
