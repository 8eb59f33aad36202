using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Tests;

[Collection(TorchSerialGroup.Name)]
public sealed class TrainingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly GptConfig Small = new() { Layers = 2, Heads = 4, Width = 64, ContextLength = 32, VocabSize = 256 };

    [Fact]
    public void Training_on_a_markov_source_reaches_its_entropy_rate_and_an_untrained_model_is_far_above()
    {
        var source = new MarkovSource(alphabet: 8, seed: 3, sharpness: 8.0);
        var train = source.Sample(400_000, seed: 1);
        var validation = source.Sample(20_000, seed: 2);
        using var model = TestModels.Create(Small, seed: 5);
        var hyperparameters = new TrainingHyperparameters
        {
            LearningRate = 3e-3, MinLearningRate = 1e-4, WarmupSteps = 30, TotalSteps = 800, WeightDecay = 0.0,
        };
        using var trainer = new GptTrainer(model, hyperparameters);
        var random = new Random(7);
        var untrained = trainer.Evaluate(Windows(validation, Small.ContextLength, 32, random: null));

        for (var step = 0; step < hyperparameters.TotalSteps; step++)
        {
            using var batch = Windows(train, Small.ContextLength, 32, random).First();
            trainer.TrainStep([batch]);
        }

        var trained = trainer.Evaluate(Windows(validation, Small.ContextLength, 32, random: null));
        output.WriteLine($"entropy rate {source.EntropyRate:F4} nats; validation loss untrained {untrained.Loss:F4}, trained {trained.Loss:F4} (ratio {trained.Loss / source.EntropyRate:F3}), perplexity {trained.Perplexity:F3}");

        Assert.True(untrained.Loss > 3 * source.EntropyRate, $"untrained loss {untrained.Loss:F3} vs entropy {source.EntropyRate:F3}");
        Assert.True(trained.Loss < 1.10 * source.EntropyRate, $"trained loss {trained.Loss:F4} vs entropy {source.EntropyRate:F4}");
        Assert.True(trained.Loss > 0.97 * source.EntropyRate, $"trained loss {trained.Loss:F4} below the entropy rate {source.EntropyRate:F4}: the evaluation leaks");
    }

    [Fact]
    public void Accumulating_micro_batches_gives_the_gradient_of_one_batch_that_many_times_larger()
    {
        const int micro = 4;
        using var accumulated = TestModels.Create(Small, seed: 21);
        using var single = TestModels.Create(Small, seed: 21);
        using var scope = NewDisposeScope();
        var windows = TestModels.RandomTokens(micro * 8, Small.ContextLength + 1, seed: 4);
        var microBatches = Enumerable.Range(0, micro).Select(i => TokenBatch.FromWindows(windows.narrow(0, i * 8, 8))).ToList();
        using var accumulatingTrainer = new GptTrainer(accumulated, new TrainingHyperparameters { AccumulationSteps = micro });
        using var singleTrainer = new GptTrainer(single, new TrainingHyperparameters());

        var accumulatedLoss = accumulatingTrainer.ComputeGradients(microBatches);
        var singleLoss = singleTrainer.ComputeGradients([TokenBatch.FromWindows(windows)]);

        var worst = accumulated.named_parameters().Zip(single.named_parameters())
            .Max(pair => TestModels.MaxAbsDiff(pair.First.parameter.grad!, pair.Second.parameter.grad!));
        var largest = single.parameters().Max(parameter => parameter.grad!.abs().max().item<float>());
        output.WriteLine($"max |grad difference| {worst:E2} (largest gradient entry {largest:E2}); loss {accumulatedLoss:F6} vs {singleLoss:F6}");
        Assert.True(worst <= 1e-6, $"max gradient difference {worst:E2}");
        Assert.Equal(singleLoss, accumulatedLoss, 5);
    }

    [Fact]
    public void The_same_seed_gives_the_same_training_trajectory()
    {
        var first = Trajectory(seed: 8, TrainingPrecision.Fp32);
        var second = Trajectory(seed: 8, TrainingPrecision.Fp32);

        Assert.Equal(first, second);
    }

    [Fact]
    public void Bf16_mixed_precision_learns_and_keeps_fp32_master_weights()
    {
        using var model = TestModels.Create(Small, seed: 9);
        using var trainer = new GptTrainer(model, new TrainingHyperparameters { Precision = TrainingPrecision.Bf16Mixed, LearningRate = 3e-3, WarmupSteps = 5, TotalSteps = 60 });
        var source = new MarkovSource(8, seed: 3, sharpness: 4.0).Sample(50_000, seed: 1);
        var random = new Random(1);
        var losses = new List<double>();

        for (var step = 0; step < 60; step++)
        {
            using var batch = Windows(source, Small.ContextLength, 16, random).First();
            losses.Add(trainer.TrainStep([batch]).Loss);
        }

        output.WriteLine($"bf16 mixed: loss {losses[0]:F3} -> {losses[^1]:F3}");
        Assert.All(model.parameters(), parameter => Assert.Equal(ScalarType.Float32, parameter.dtype));
        Assert.True(losses.TakeLast(5).Average() < 0.5 * losses.Take(5).Average());
    }

    [Fact]
    public void The_learning_rate_warms_up_linearly_then_decays_by_cosine()
    {
        var schedule = new TrainingHyperparameters { LearningRate = 1.0, MinLearningRate = 0.1, WarmupSteps = 10, TotalSteps = 110 };

        Assert.Equal(0.1, schedule.LearningRateAt(0), 12);
        Assert.Equal(1.0, schedule.LearningRateAt(9), 12);
        Assert.Equal(0.55, schedule.LearningRateAt(60), 12);
        Assert.Equal(0.1, schedule.LearningRateAt(110), 12);
        Assert.Equal(0.1, schedule.LearningRateAt(500), 12);
    }

    [Theory]
    [InlineData("LearningRate")]
    [InlineData("AccumulationSteps")]
    [InlineData("TotalSteps")]
    public void Invalid_hyperparameters_are_rejected_by_name(string field)
    {
        var hyperparameters = field switch
        {
            "LearningRate" => new TrainingHyperparameters { LearningRate = 0 },
            "AccumulationSteps" => new TrainingHyperparameters { AccumulationSteps = 0 },
            _ => new TrainingHyperparameters { WarmupSteps = 10, TotalSteps = 5 },
        };

        var error = Assert.Throws<ArgumentException>(() => hyperparameters.Validate());

        Assert.Equal(field, error.ParamName);
    }

    private static List<double> Trajectory(long seed, TrainingPrecision precision)
    {
        using var model = TestModels.Create(Small, seed);
        using var trainer = new GptTrainer(model, new TrainingHyperparameters { Precision = precision, WarmupSteps = 2, TotalSteps = 10 });
        var source = new MarkovSource(8, seed: 3, sharpness: 4.0).Sample(20_000, seed: 1);
        var random = new Random((int)seed);
        var losses = new List<double>();
        for (var step = 0; step < 6; step++)
        {
            using var batch = Windows(source, Small.ContextLength, 8, random).First();
            losses.Add(trainer.TrainStep([batch]).Loss);
        }

        return losses;
    }

    /// <summary>
    /// Batches of [batch, context + 1] windows: random offsets when <paramref name="random"/> is
    /// given (training), else consecutive non-overlapping windows covering the text (evaluation).
    /// </summary>
    private static IEnumerable<TokenBatch> Windows(int[] text, int context, int batch, Random? random)
    {
        var span = context + 1;
        var offsets = random is null
            ? Enumerable.Range(0, (text.Length - 1) / span).Select(i => i * span).ToList()
            : Enumerable.Range(0, batch).Select(_ => random.Next(text.Length - span)).ToList();
        foreach (var chunk in offsets.Chunk(batch))
        {
            var ids = chunk.SelectMany(offset => text.Skip(offset).Take(span)).Select(id => (long)id).ToArray();
            yield return TokenBatch.FromWindows(tensor(ids, [chunk.Length, span]).DetachFromDisposeScope());
        }
    }
}
