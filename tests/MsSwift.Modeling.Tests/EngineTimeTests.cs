using System.Diagnostics;
using System.Diagnostics.Metrics;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Modeling.Tests;

/// <summary>The engine's time by phase: its own totals and the <c>msswift.inference.engine.time</c> counter.</summary>
[Collection(TorchSerialGroup.Name)]
public sealed class EngineTimeTests
{
    [Fact]
    public async Task Prefill_and_decode_time_are_counted_apart_with_the_engine_tags()
    {
        using var meter = new Meter(BatcherMetrics.MeterName);
        var seconds = new Dictionary<string, double>();
        var versions = new HashSet<string?>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, meterListener) =>
        {
            // Only this test's meter: other tests in the process create their own with this name.
            if (instrument.Meter == meter && instrument.Name == "msswift.inference.engine.time")
            {
                meterListener.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            string? phase = null, version = null;
            foreach (var tag in tags)
            {
                (phase, version) = tag.Key switch
                {
                    "msswift.phase" => (tag.Value as string, version),
                    "msswift.model.version" => (phase, tag.Value as string),
                    _ => (phase, version),
                };
            }

            // Collected, not asserted here: this runs on the engine's thread, where a throw would fault the engine.
            lock (seconds)
            {
                seconds[phase ?? "(none)"] = seconds.GetValueOrDefault(phase ?? "(none)") + value;
                versions.Add(version);
            }
        });
        listener.Start();

        using var model = ContinuousBatcherTests.DecisiveModel();
        var tokenizer = new ByteTokenizer();
        var tags = new TagList { { "msswift.model.version", "7" } };
        var batcher = new ContinuousBatcher(model, tokenizer, new BatcherOptions { MaxBatchSize = 4 }, new BatcherMetrics(meter), tags);
        await using (batcher)
        {
            var requests = Enumerable.Range(0, 6).Select(i => new GenerationRequest(tokenizer.Encode($"prompt {i}"), new GenerationOptions { MaxNewTokens = 12 }));
            await Task.WhenAll(requests.Select(request => batcher.Submit(request).Completion)).WaitAsync(TimeSpan.FromSeconds(60));
        }

        // Read once the engine has stopped: a step is counted after the tokens it produced were delivered.
        Assert.True(batcher.PrefillTime > TimeSpan.Zero, "no prefill time");
        Assert.True(batcher.DecodeTime > TimeSpan.Zero, "no decode time");
        // 6 requests of 12 tokens: their first tokens come from prefills, the other 66 from decode steps of at most 4 rows.
        Assert.True(batcher.DecodeSteps >= 66 / 4, $"{batcher.DecodeSteps} decode steps");
        Assert.Equal(["decode", "prefill"], seconds.Keys.Order());
        Assert.Equal(["7"], versions);
        Assert.Equal(batcher.PrefillTime.TotalSeconds, seconds["prefill"], precision: 6);
        Assert.Equal(batcher.DecodeTime.TotalSeconds, seconds["decode"], precision: 6);
    }
}
