using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Modeling.Tests;

public sealed class GptConfigTests
{
    [Fact]
    public void Heads_that_do_not_divide_the_width_are_rejected()
    {
        var error = Assert.Throws<ArgumentException>(() => new GptConfig { Width = 100, Heads = 3 }.Validate());

        Assert.Equal("Heads", error.ParamName);
        Assert.Contains("must divide the model width: 100 is not divisible by 3", error.Message);
    }

    [Fact]
    public void A_zero_context_length_is_rejected()
    {
        var error = Assert.Throws<ArgumentException>(() => new GptConfig { ContextLength = 0 }.Validate());

        Assert.Equal("ContextLength", error.ParamName);
        Assert.Contains("must be at least 1, got 0", error.Message);
    }

    [Theory]
    [InlineData(0, "Layers")]
    [InlineData(-1, "Width")]
    [InlineData(1, "VocabSize")]
    public void Other_out_of_range_fields_name_themselves(int value, string field)
    {
        var config = field switch
        {
            "Layers" => new GptConfig { Layers = value },
            "Width" => new GptConfig { Width = value },
            _ => new GptConfig { VocabSize = value },
        };

        var error = Assert.Throws<ArgumentException>(() => config.Validate());

        Assert.Equal(field, error.ParamName);
    }

    [Fact]
    public void An_unknown_tokenizer_is_rejected_with_the_known_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => TokenizerRegistry.Create("sentencepiece"));

        Assert.Contains("unknown tokenizer 'sentencepiece'; known tokenizers: byte, gpt2", error.Message);
    }
}
