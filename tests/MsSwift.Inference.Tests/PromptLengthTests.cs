using Google.Protobuf;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Serving;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Inference.Tests;

/// <summary>Prompts refused by their byte length before tokenising, and only those that cannot fit.</summary>
public sealed class PromptLengthTests
{
    [Fact]
    public void A_4_mb_prompt_is_refused_for_a_gpt2_model_without_being_tokenised()
    {
        var tokenizer = new CountingTokenizer(new Gpt2Tokenizer());
        var request = new PredictRequest { InputData = ByteString.CopyFrom(Enumerable.Repeat((byte)'a', 4 << 20).ToArray()) };

        var (mapped, violations) = PredictRequestMapper.Map(request, tokenizer, contextLength: 1024, "gpt v1");

        Assert.Null(mapped);
        var violation = Assert.Single(violations!.FieldViolations);
        Assert.Equal("input_data", violation.Field);
        Assert.Matches(@"^the prompt has 4194304 bytes, so at least \d+ tokens; gpt v1 accepts at most 1023$", violation.Description);
        Assert.Equal(0, tokenizer.Encodes);
    }

    [Fact]
    public void A_prompt_longer_in_bytes_than_the_context_but_within_it_in_tokens_is_tokenised_and_accepted()
    {
        var tokenizer = new CountingTokenizer(new Gpt2Tokenizer());
        var text = string.Concat(Enumerable.Repeat("hello world ", 10));
        var request = new PredictRequest { InputData = ByteString.CopyFromUtf8(text) };

        var (mapped, violations) = PredictRequestMapper.Map(request, tokenizer, contextLength: 64, "gpt v1");

        Assert.Null(violations);
        Assert.NotNull(mapped);
        Assert.Equal(1, tokenizer.Encodes);
        Assert.True(text.Length >= 64 && mapped.Prompt.Count < 64, $"{text.Length} bytes, {mapped.Prompt.Count} tokens");
    }

    [Fact]
    public void The_bound_holds_for_gpt2s_longest_tokens_and_its_end_of_text_token()
    {
        var gpt2 = new Gpt2Tokenizer();
        var longest = PromptLength.MaxBytesPerToken(gpt2);
        var samples = new[] { new string('-', 400), new string(' ', 300), "<|endoftext|>", "ÃÂÃÂÃÂÃÂ naïve café 東京 🙂🙂" };

        Assert.All(samples, sample => Assert.True(
            System.Text.Encoding.UTF8.GetByteCount(sample) <= gpt2.Encode(sample).Count * longest,
            $"'{sample}' has more than {longest} bytes per token"));
        Assert.Equal(1, PromptLength.MaxBytesPerToken(new ByteTokenizer()));
    }
}
