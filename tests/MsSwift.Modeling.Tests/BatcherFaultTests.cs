using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Tokenizers;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Tests;

/// <summary>What one bad sequence, or a broken engine, may and may not do to everyone else.</summary>
[Collection(TorchSerialGroup.Name)]
public sealed class BatcherFaultTests
{
    private static readonly ByteTokenizer Bytes = new();
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static TheoryData<double, int, double> ExtremeSampling => new()
    {
        { double.Epsilon, 0, 1 },        // a subnormal temperature: dividing by it overflows fp32 logits
        { 1e-300, 0, 1 },
        { 1e-30, 0, 1 },
        { 1e-5, 0, 1 },
        { GenerationOptions.MaxTemperature, 0, 1 },
        { 1, 0, double.Epsilon },        // top-p so small that only the most likely token can stay
        { 1, 1, 1e-300 },
        { 1, int.MaxValue, 1 },
        { 1e-300, 1, double.Epsilon },
    };

    [Theory]
    [MemberData(nameof(ExtremeSampling))]
    public async Task Extreme_but_accepted_sampling_parameters_finish_and_leave_the_version_serving(double temperature, int topK, double topP)
    {
        using var model = ContinuousBatcherTests.DecisiveModel();
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxBatchSize = 4 });
        var options = new GenerationOptions { MaxNewTokens = 12, Temperature = temperature, TopK = topK, TopP = topP, Seed = 5 };
        var healthy = new GenerationRequest(Bytes.Encode("a neighbour"), new GenerationOptions { MaxNewTokens = 12 });
        var expected = new TextGenerator(model, Bytes).Generate([healthy])[0];

        var extreme = batcher.Submit(new GenerationRequest(Bytes.Encode("extreme"), options));
        var neighbour = batcher.Submit(healthy);

        var result = await extreme.Completion.WaitAsync(Timeout);
        Assert.True(result.Tokens.Count > 0, "nothing was generated");
        Assert.Equal(expected.Tokens, (await neighbour.Completion.WaitAsync(Timeout)).Tokens);
        var next = batcher.Submit(new GenerationRequest(Bytes.Encode("after"), new GenerationOptions { MaxNewTokens = 3 }));
        Assert.Equal(3, (await next.Completion.WaitAsync(Timeout)).Tokens.Count);
        Assert.Null(batcher.Fault);
    }

    [Fact]
    public async Task A_sequence_with_non_finite_logits_fails_alone_with_an_internal_error()
    {
        // Position 40 of this model is poisoned: any sequence that reaches it computes NaN.
        using var model = PoisonedAt(position: 40);
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxBatchSize = 4 });
        var healthy = Enumerable.Range(0, 3)
            .Select(i => new GenerationRequest(Bytes.Encode($"short {i}"), new GenerationOptions { MaxNewTokens = 20 }))
            .ToList();
        var expected = healthy.Select(request => new TextGenerator(model, Bytes).Generate([request])[0].Tokens).ToList();

        // 36 prompt tokens: the prefill is fine, the fifth decode step reaches position 40.
        var poisoned = batcher.Submit(new GenerationRequest(Bytes.Encode(new string('p', 36)), new GenerationOptions { MaxNewTokens = 20 }));
        var neighbours = healthy.Select(request => batcher.Submit(request)).ToList();

        var error = await Assert.ThrowsAsync<GenerationException>(() => poisoned.Completion.WaitAsync(Timeout));
        Assert.Equal(GenerationFailure.Internal, error.Failure);
        Assert.Contains("non-finite", error.Message);
        // A streaming reader of the failed request gets the same error after the tokens it had.
        await Assert.ThrowsAsync<GenerationException>(() => ReadToEnd(poisoned).WaitAsync(Timeout));
        for (var i = 0; i < neighbours.Count; i++)
        {
            Assert.Equal(expected[i], (await neighbours[i].Completion.WaitAsync(Timeout)).Tokens);
        }

        Assert.Null(batcher.Fault);
    }

    [Fact]
    public async Task An_engine_that_cannot_run_its_model_fails_every_request_at_once_and_closes()
    {
        var model = ContinuousBatcherTests.DecisiveModel();
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxBatchSize = 2, MaxQueueSize = 16 });
        // Once a first request is done the engine is idle, so nothing runs the model while its weights are freed under it.
        await batcher.Submit(new GenerationRequest(Bytes.Encode("warm"), new GenerationOptions { MaxNewTokens = 2 })).Completion.WaitAsync(Timeout);
        model.Dispose();

        // The engine may fail on the first and close before the rest are submitted: those are refused at once, as closed.
        var handles = new List<GenerationHandle>();
        for (var i = 0; i < 6; i++)
        {
            try
            {
                handles.Add(batcher.Submit(new GenerationRequest(Bytes.Encode($"doomed {i}"), new GenerationOptions { MaxNewTokens = 50 })));
            }
            catch (BatcherClosedException refused)
            {
                Assert.True(refused.Faulted);
            }
        }

        Assert.NotEmpty(handles);

        await batcher.Stopped.WaitAsync(Timeout);
        foreach (var handle in handles)
        {
            var error = await Assert.ThrowsAsync<GenerationException>(() => handle.Completion.WaitAsync(Timeout));
            Assert.Equal(GenerationFailure.Unavailable, error.Failure);
        }

        Assert.NotNull(batcher.Fault);
        Assert.Equal(0, batcher.QueuedCount);
        var closed = Assert.Throws<BatcherClosedException>(() => batcher.Submit(new GenerationRequest(Bytes.Encode("late"), new GenerationOptions())));
        Assert.True(closed.Faulted);
    }

    [Fact]
    public async Task A_request_racing_a_drain_is_told_the_version_is_closing_never_that_the_queue_is_full()
    {
        using var model = ContinuousBatcherTests.DecisiveModel();
        var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxQueueSize = 1000 });
        var misreported = 0;
        using var go = new ManualResetEventSlim();
        var submitters = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            go.Wait();
            for (var i = 0; i < 500; i++)
            {
                try
                {
                    batcher.Submit(new GenerationRequest(Bytes.Encode("race"), new GenerationOptions { MaxNewTokens = 1 }));
                }
                catch (QueueFullException)
                {
                    Interlocked.Increment(ref misreported);
                }
                catch (BatcherClosedException)
                {
                    return;
                }
            }
        })).ToList();

        go.Set();
        var drained = batcher.DrainAsync();
        await Task.WhenAll(submitters).WaitAsync(Timeout);
        await drained.WaitAsync(Timeout);
        await batcher.DisposeAsync();

        Assert.Equal(0, misreported);
    }

    [Theory]
    [InlineData(double.NaN, 1)]
    [InlineData(double.PositiveInfinity, 1)]
    [InlineData(-1e-300, 1)]
    [InlineData(1, double.NaN)]
    [InlineData(1, 0)]
    [InlineData(1, -double.Epsilon)]
    public void Sampling_parameters_outside_the_finite_range_are_refused(double temperature, double topP)
    {
        var options = new GenerationOptions { Temperature = temperature, TopP = topP };

        Assert.NotEmpty(options.Violations());
    }

    [Fact]
    public void A_stop_sequence_longer_than_the_limit_is_refused()
    {
        var options = new GenerationOptions { StopSequences = [new string('s', GenerationOptions.MaxStopSequenceLength + 1)] };

        Assert.Contains(options.Violations(), violation => violation.Field == nameof(GenerationOptions.StopSequences));
    }

    private static async Task ReadToEnd(GenerationHandle handle)
    {
        await foreach (var _ in handle.Tokens.ReadAllAsync())
        {
        }
    }

    private static GptModel PoisonedAt(int position)
    {
        var model = ContinuousBatcherTests.DecisiveModel(contextLength: 64);
        using (no_grad())
        {
            var positions = model.named_parameters().Single(parameter => parameter.name == "wpe.weight").parameter;
            positions[position].fill_(double.NaN);
        }

        return model;
    }
}
