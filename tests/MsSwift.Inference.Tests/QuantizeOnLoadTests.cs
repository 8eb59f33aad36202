using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MsSwift.Inference.Models;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Inference.Tests;

/// <summary>Inference:Int8Models quantizes every version of the named models as it loads, and only those.</summary>
public sealed class QuantizeOnLoadTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Versions_of_an_int8_model_load_quantized_and_serve_others_stay_fp32()
    {
        var root = Directory.CreateTempSubdirectory("msswift-int8-load-").FullName;
        try
        {
            await InferenceServer.WriteCheckpointAsync(root, "tiny/v1/model.safetensors", seed: 3);
            var store = new Lazy<ICheckpointStore>(() => new LocalDirectoryCheckpointStore(root));
            var options = Options.Create(new InferenceOptions { CheckpointDirectory = root, DefaultModel = "tiny", Int8Models = ["tiny"] });
            await using var catalog = new ModelCatalog(store, options, new BatcherMetrics(new Meter("test")), NullLogger<ModelCatalog>.Instance);

            var int8 = await catalog.LoadAsync("tiny", "v1", "tiny/v1/model.safetensors");
            var full = await catalog.LoadAsync("other", "v1", "tiny/v1/model.safetensors");
            var request = new GenerationRequest(new ByteTokenizer().Encode("quantized"), new GenerationOptions { MaxNewTokens = 8 });
            var answer = await int8.Batcher.Submit(request).Completion.WaitAsync(Timeout);

            Assert.True(int8.Loaded.Model.IsInt8);
            Assert.False(full.Loaded.Model.IsInt8);
            Assert.True(int8.Loaded.Model.WeightBytes() <= 0.35 * full.Loaded.Model.WeightBytes(), $"{int8.Loaded.Model.WeightBytes()} vs {full.Loaded.Model.WeightBytes()} bytes");
            Assert.NotEmpty(answer.Tokens);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
