using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MsSwift.Inference.Models;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Tokenizers;
using MsSwift.Testing;

namespace MsSwift.Inference.Tests;

/// <summary>A version whose engine dies is reported unhealthy, reloaded from its checkpoint, and serves again.</summary>
public sealed class EngineRestartTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_faulted_engine_fails_its_requests_reports_unhealthy_and_is_reloaded_to_serve_again()
    {
        var root = Directory.CreateTempSubdirectory("msswift-restart-").FullName;
        try
        {
            await InferenceServer.WriteCheckpointAsync(root, "tiny/v1/model.safetensors", seed: 3);
            var store = new Lazy<ICheckpointStore>(() => new LocalDirectoryCheckpointStore(root));
            var options = Options.Create(new InferenceOptions { CheckpointDirectory = root, DefaultModel = "tiny" });
            await using var catalog = new ModelCatalog(store, options, new BatcherMetrics(new Meter("test")), NullLogger<ModelCatalog>.Instance);
            var health = new ModelReadinessHealthCheck(catalog, new ModelBootstrapper(catalog, options, NullLogger<ModelBootstrapper>.Instance));
            var context = new HealthCheckContext { Registration = new HealthCheckRegistration("model", health, HealthStatus.Unhealthy, null) };
            await catalog.LoadAsync("tiny", "v1", "tiny/v1/model.safetensors");
            catalog.Promote("tiny", "v1");
            var dead = catalog.Resolve("tiny", "");
            var request = new GenerationRequest(new ByteTokenizer().Encode("again"), new GenerationOptions { MaxNewTokens = 5 });
            var expected = (await dead.Batcher.Submit(request).Completion.WaitAsync(Timeout)).Tokens;

            // The checkpoint is away while the engine dies, so the reload fails and is retried until it is back.
            var checkpoint = Path.Combine(root, "tiny", "v1", "model.safetensors");
            File.Move(checkpoint, checkpoint + ".away");
            // The engine is idle: free its weights, so its next forward pass throws.
            dead.Loaded.Model.Dispose();
            var doomed = dead.Batcher.Submit(request);

            var failure = await Assert.ThrowsAsync<GenerationException>(() => doomed.Completion.WaitAsync(Timeout));
            Assert.Equal(GenerationFailure.Unavailable, failure.Failure);
            var reported = await Poll.UntilAsync(() => health.CheckHealthAsync(context), result => result.Status == HealthStatus.Unhealthy, Timeout);
            Assert.Equal(HealthStatus.Unhealthy, reported.Status);
            Assert.Contains("engine failed", reported.Description);
            var refused = await Assert.ThrowsAsync<BatcherClosedException>(() => Task.Run(() => catalog.Resolve("tiny", "").Batcher.Submit(request)));
            Assert.True(refused.Faulted);

            File.Move(checkpoint + ".away", checkpoint);
            var healthy = await Poll.UntilAsync(() => health.CheckHealthAsync(context), result => result.Status == HealthStatus.Healthy, Timeout);
            Assert.Equal(HealthStatus.Healthy, healthy.Status);
            var reloaded = catalog.Resolve("tiny", "");
            Assert.NotSame(dead, reloaded);
            Assert.Equal(expected, (await reloaded.Batcher.Submit(request).Completion.WaitAsync(Timeout)).Tokens);
            Assert.Empty(catalog.Faulted);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
