using System.Net;
using System.Net.Http.Json;
using System.Text;
using Grpc.Core;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Generation;
using MsSwift.Testing;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MsSwift.Gateway.Tests;

/// <summary>
/// An int8 version as an operator makes and rolls it out, all through the gateway: quantize (admin
/// only), canary, promote, roll back; its answers are compared with the fp32 parent's on the same prompts.
/// </summary>
[Collection(GatewayClusterGroup.Name)]
public sealed class Int8ServingTests(GatewayCluster cluster, ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly string[] Prompts = ["int8 one", "int8 two", "the third", "and a fourth"];

    [Fact]
    public async Task A_quantized_version_is_served_through_the_gateway_and_answers_within_the_logit_error_of_fp32()
    {
        using var anonymous = cluster.Http(null);
        using var user = cluster.Http(GatewayCluster.UserKey);
        using var admin = cluster.Http(GatewayCluster.AdminKey);
        var refusedAnonymous = await anonymous.PostAsync("/registry/models/tiny/versions/v3/quantize", null);
        var refusedUser = await user.PostAsync("/registry/models/tiny/versions/v3/quantize", null);
        var created = await admin.PostAsJsonAsync("/registry/models/tiny/versions/v3/quantize", new { targetVersion = "v3-q" });
        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden, HttpStatusCode.Created), (refusedAnonymous.StatusCode, refusedUser.StatusCode, created.StatusCode));

        var canary = await admin.PutAsJsonAsync("/registry/models/tiny/canary", new { version = "v3-q", percent = 1 });
        Assert.Equal(HttpStatusCode.OK, canary.StatusCode);
        var pinned = await Poll.UntilAsync(() => AnswerAsync(Prompts[0], "v3-q"), answer => answer is not null, Timeout);
        Assert.NotNull(pinned);
        var served = new List<string>();
        foreach (var prompt in Prompts)
        {
            served.Add((await AnswerAsync(prompt, "v3-q"))!);
        }

        try
        {
            var cleared = await admin.DeleteAsync("/registry/models/tiny/canary");
            Assert.Equal(HttpStatusCode.OK, cleared.StatusCode);
            var promoted = await admin.PostAsync("/registry/models/tiny/versions/v3-q/promote", null);
            Assert.Equal(HttpStatusCode.OK, promoted.StatusCode);
            var production = await Poll.UntilAsync(() => AnswerWithVersionAsync(Prompts[1], ""), answer => answer.Version == "v3-q", Timeout);
            Assert.Equal(("v3-q", served[1]), production);
        }
        finally
        {
            var rolledBack = await admin.PostAsync("/registry/models/tiny/rollback", null);
            Assert.Equal(HttpStatusCode.OK, rolledBack.StatusCode);
            await Poll.UntilAsync(() => AnswerWithVersionAsync(Prompts[1], ""), answer => answer.Version == "v1", Timeout);
        }

        // The same prompts on the fp32 parent and the int8 checkpoint, here in the test process.
        var store = new LocalDirectoryCheckpointStore(cluster.Infrastructure.CheckpointDirectory);
        using var full = await GptCheckpoint.LoadAsync(store, "tiny/v3/model.safetensors", CPU);
        using var int8 = await GptCheckpoint.LoadAsync(store, "tiny/v3-q/model.int8.safetensors", CPU);
        var expected = Prompts.Select(prompt => new TextGenerator(full.Model, full.Tokenizer).Generate(prompt, Options).Text).ToList();
        var (relativeRms, maxAbs) = LogitError(full, int8);

        output.WriteLine($"int8 vs fp32 logits on this checkpoint: relative RMS {relativeRms:E2}, max |diff| {maxAbs:E2}; answers {string.Join(" | ", served)} vs fp32 {string.Join(" | ", expected)}");
        Assert.True(int8.Model.IsInt8);
        Assert.Contains("Loaded tiny v3-q from tiny/v3-q/model.int8.safetensors (int8,", cluster.Inference.Output, StringComparison.Ordinal);
        // The test model's weights are scaled so greedy choices are clear-cut: an error this small keeps every choice.
        Assert.True(relativeRms < 0.03, $"relative RMS logit error {relativeRms:E2}");
        Assert.Equal(expected, served);
    }

    private static readonly GenerationOptions Options = new() { MaxNewTokens = 2 };

    private async Task<string?> AnswerAsync(string prompt, string version)
    {
        try
        {
            return (await AnswerWithVersionAsync(prompt, version)).Text;
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            return null; // the canary is not loaded yet
        }
    }

    private async Task<(string Version, string Text)> AnswerWithVersionAsync(string prompt, string version)
    {
        var request = FrontDoorTests.Request(prompt);
        request.ModelVersion = version;
        var response = await cluster.Models.PredictAsync(request, GatewayCluster.Credentials(GatewayCluster.UserKey), deadline: DateTime.UtcNow.Add(Timeout));
        return (response.ModelVersion, Encoding.UTF8.GetString(response.OutputData.Span));
    }

    private static (double RelativeRms, double MaxAbs) LogitError(LoadedModel full, LoadedModel int8)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var tokens = tensor(Prompts.SelectMany(prompt => full.Tokenizer.Encode(prompt).Take(8)).Select(token => (long)token).ToArray()).view(Prompts.Length, 8);
        var reference = full.Model.forward(tokens);
        var approximate = int8.Model.forward(tokens);
        var relativeRms = ((approximate - reference).pow(2).mean().sqrt() / reference.pow(2).mean().sqrt()).item<float>();
        return (relativeRms, (approximate - reference).abs().max().item<float>());
    }
}
