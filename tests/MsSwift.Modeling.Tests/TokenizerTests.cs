using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Modeling.Tests;

public sealed class TokenizerTests
{
    [Fact]
    public void Byte_tokens_are_the_utf8_bytes_and_round_trip()
    {
        var tokenizer = TokenizerRegistry.Create("byte");

        var ids = tokenizer.Encode("héllo ✓");

        Assert.Equal(System.Text.Encoding.UTF8.GetBytes("héllo ✓").Select(b => (int)b), ids);
        Assert.Equal("héllo ✓", tokenizer.Decode(ids));
        Assert.Equal(256, tokenizer.VocabSize);
    }

    [Fact]
    public void Gpt2_bpe_gives_gpt2s_token_ids_and_round_trips()
    {
        var tokenizer = TokenizerRegistry.Create("gpt2");

        var ids = tokenizer.Encode("Hello world");

        // The ids GPT-2's own tokenizer gives ("Hello" = 15496, " world" = 995).
        Assert.Equal([15496, 995], ids);
        Assert.Equal("Hello world", tokenizer.Decode(ids));
        Assert.Equal(50256, tokenizer.EndOfTextId);
    }
}
