using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Modeling.Tests;

[Collection(TorchSerialGroup.Name)]
public sealed class GenerationTests
{
    private static readonly ByteTokenizer Bytes = new();

    [Fact]
    public void The_same_seed_gives_the_same_sampled_output_and_another_seed_another()
    {
        using var model = TestModels.Create();
        var generator = new TextGenerator(model, Bytes);
        var options = new GenerationOptions { MaxNewTokens = 24, Temperature = 1.0, TopK = 50, TopP = 0.95, Seed = 42 };

        var first = generator.Generate("The model", options);
        var again = generator.Generate("The model", options);
        var otherSeed = generator.Generate("The model", options with { Seed = 43 });

        Assert.Equal(first.Tokens, again.Tokens);
        Assert.NotEqual(first.Tokens, otherSeed.Tokens);
        Assert.Equal(24, first.Tokens.Count);
        Assert.Equal(FinishReason.Length, first.FinishReason);
    }

    [Fact]
    public void A_batch_of_prompts_of_different_lengths_gives_what_each_gives_alone()
    {
        using var model = TestModels.Create();
        var generator = new TextGenerator(model, Bytes);
        string[] prompts = ["a", "a longer prompt here", "mid length"];
        int[] lengths = [5, 17, 9];
        var requests = prompts.Select((prompt, i) => new GenerationRequest(Bytes.Encode(prompt),
            new GenerationOptions { MaxNewTokens = lengths[i], Temperature = i == 1 ? 0.8 : 0, Seed = 5 })).ToList();

        var batched = generator.Generate(requests);
        var alone = requests.Select(request => generator.Generate([request])[0]).ToList();

        for (var i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(alone[i].Tokens, batched[i].Tokens);
            Assert.Equal(lengths[i], batched[i].Tokens.Count);
            Assert.Equal(prompts[i].Length, batched[i].PromptTokens);
        }
    }

    [Fact]
    public void Top_k_of_one_is_greedy_whatever_the_temperature()
    {
        using var model = TestModels.Create();
        var generator = new TextGenerator(model, Bytes);

        var greedy = generator.Generate("xyz", new GenerationOptions { MaxNewTokens = 12 });
        var topOne = generator.Generate("xyz", new GenerationOptions { MaxNewTokens = 12, Temperature = 2.0, TopK = 1, Seed = 9 });

        Assert.Equal(greedy.Tokens, topOne.Tokens);
    }

    [Fact]
    public void A_stop_sequence_ends_generation_and_is_cut_from_the_text()
    {
        using var model = TestModels.Create();
        var generator = new TextGenerator(model, Bytes);
        var free = generator.Generate("hello", new GenerationOptions { MaxNewTokens = 20 });
        // Stop at whatever the greedy continuation produces as its 4th..5th characters.
        var stop = free.Text.Substring(3, 2);

        var stopped = generator.Generate("hello", new GenerationOptions { MaxNewTokens = 20, StopSequences = [stop] });

        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
        Assert.Equal(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.True(stopped.Tokens.Count < free.Tokens.Count);
    }

    [Fact]
    public void Generation_stops_at_the_context_length()
    {
        using var model = TestModels.Create();
        var generator = new TextGenerator(model, Bytes);

        var result = generator.Generate(new string('x', 60), new GenerationOptions { MaxNewTokens = 100 });

        Assert.Equal(FinishReason.ContextFull, result.FinishReason);
        Assert.Equal(5, result.Tokens.Count); // 60 prompt + 4 fed back = 64 positions, plus the last sampled token
    }

    [Theory]
    [InlineData(0, 0, 0, 1.0, "MaxNewTokens")]
    [InlineData(10, -0.5, 0, 1.0, "Temperature")]
    [InlineData(10, 1.0, -1, 1.0, "TopK")]
    [InlineData(10, 1.0, 0, 0.0, "TopP")]
    [InlineData(10, 1.0, 0, 1.5, "TopP")]
    public void Out_of_range_options_are_rejected_by_name(int maxNew, double temperature, int topK, double topP, string field)
    {
        using var model = TestModels.Create();
        var generator = new TextGenerator(model, Bytes);

        var error = Assert.Throws<ArgumentException>(() => generator.Generate("hi",
            new GenerationOptions { MaxNewTokens = maxNew, Temperature = temperature, TopK = topK, TopP = topP }));

        Assert.Equal(field, error.ParamName);
    }

    [Fact]
    public void Empty_and_over_long_prompts_are_rejected()
    {
        using var model = TestModels.Create();
        var generator = new TextGenerator(model, Bytes);

        var empty = Assert.Throws<ArgumentException>(() => generator.Generate("", new GenerationOptions()));
        var tooLong = Assert.Throws<ArgumentException>(() => generator.Generate(new string('x', 64), new GenerationOptions()));

        Assert.Contains("the prompt is empty", empty.Message);
        Assert.Contains("the prompt has 64 tokens; the model's context length is 64", tooLong.Message);
    }
}
