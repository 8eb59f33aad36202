using System.Text;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Modeling.Tests;

/// <summary>Stop sequences found from the output's tail, fed one real byte token at a time.</summary>
public sealed class StopSequenceTests
{
    private static readonly ByteTokenizer Bytes = new();

    [Theory]
    [InlineData("the answer is 42. Done. More", ". Done")]
    [InlineData("prix : 12€ — fin du texte", "€ —")]
    [InlineData("emoji 🙂🙂 then end", "🙂 then")]
    public void A_stop_is_found_at_the_token_that_completes_it_however_late_and_whatever_bytes_it_spans(string output, string stop)
    {
        // A long output first, so the stop lies far beyond the tail that is decoded each token.
        var text = new string('x', 80) + output;
        var sequence = new Sequence(new GenerationRequest([1], new GenerationOptions { MaxNewTokens = 1000, StopSequences = ["nv", stop] }));

        foreach (var token in Bytes.Encode(text))
        {
            sequence.Accept(token, Bytes, contextFull: false);
            if (sequence.Finished)
            {
                break;
            }
        }

        var end = text.IndexOf(stop, StringComparison.Ordinal);
        Assert.Equal(FinishReason.Stop, sequence.Reason);
        Assert.Equal(Encoding.UTF8.GetByteCount(text[..(end + stop.Length)]), sequence.GeneratedCount);
        Assert.Equal(text[..end], sequence.ToResult(Bytes).Text);
    }

    [Fact]
    public void Output_without_a_stop_runs_to_its_length()
    {
        var sequence = new Sequence(new GenerationRequest([1], new GenerationOptions { MaxNewTokens = 50, StopSequences = ["zz"] }));

        foreach (var token in Bytes.Encode(new string('z', 1) + new string('y', 60)))
        {
            sequence.Accept(token, Bytes, contextFull: false);
            if (sequence.Finished)
            {
                break;
            }
        }

        Assert.Equal(FinishReason.Length, sequence.Reason);
        Assert.Equal(50, sequence.GeneratedCount);
    }
}
