using Google.Protobuf;
using Grpc.Core;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Testing;
using MsSwift.Testing.Services;

namespace MsSwift.Registry.Tests;

/// <summary>Registry:Seeds: a model with no version is registered from the bundled files and promoted; anything else is left alone.</summary>
[Collection(RegistryClusterGroup.Name)]
public sealed class ModelSeedingTests(RegistryCluster cluster)
{
    private static readonly TimeSpan SeedTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_missing_model_is_registered_with_the_recorded_metrics_and_promoted()
    {
        var seed = WriteSeed(new ModelVersion { SourceJob = "job-0123456789ab", DatasetHash = "abc123", Metrics = { ["eval_loss"] = 1.5, ["train_loss"] = 1.4 } });
        await using var registry = await StartSeedingAsync(("seeded-fresh", seed));

        var model = await ProductionAsync(registry, "seeded-fresh");

        var version = Assert.Single(model.Versions);
        Assert.Equal("v1", model.ProductionVersion);
        Assert.Equal(1.5, version.Metrics["eval_loss"]);
        Assert.Equal("job-0123456789ab", version.SourceJob);
        Assert.Equal("abc123", version.DatasetHash);
        // The stored copy is named by content: its hash is in the name.
        Assert.Contains(version.Sha256[..12], version.Checkpoint);
    }

    [Fact]
    public async Task A_seed_registered_but_never_promoted_is_promoted_and_an_existing_model_is_left_alone()
    {
        var seed = WriteSeed(recorded: null);
        // A crash between the seed's two commits: registered, not promoted.
        await cluster.First.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = "seeded-half", Version = "v1", Checkpoint = "tiny/v2/model.safetensors" });
        // A model someone already uses, under another version name.
        await cluster.First.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = "seeded-taken", Version = "mine", Checkpoint = "tiny/v2/model.safetensors" });
        var taken = await cluster.First.Admin.PromoteAsync(new ChangeVersionRequest { Model = "seeded-taken", Version = "mine" });

        // Seeds run in order: once the second is promoted, the first has been decided.
        await using var registry = await StartSeedingAsync(("seeded-taken", seed), ("seeded-half", seed));
        var half = await ProductionAsync(registry, "seeded-half");
        var untouched = await registry.Reader.GetModelAsync(new GetModelRequest { Model = "seeded-taken" });

        Assert.Equal("v1", half.ProductionVersion);
        Assert.Equal(taken.Revision, untouched.Revision);
        Assert.Equal("mine", Assert.Single(untouched.Versions).Version);
    }

    private string WriteSeed(ModelVersion? recorded)
    {
        var directory = Directory.CreateTempSubdirectory("msswift-seed-").FullName;
        File.Copy(Path.Combine(cluster.Infrastructure.CheckpointDirectory, "tiny", "v2", "model.safetensors"), Path.Combine(directory, "model.safetensors"));
        if (recorded is not null)
        {
            File.WriteAllText(Path.Combine(directory, "version.json"), JsonFormatter.Default.Format(recorded));
        }

        return directory;
    }

    private Task<RegistryServer> StartSeedingAsync(params (string Model, string Directory)[] seeds)
    {
        var settings = new Dictionary<string, string?>();
        for (var i = 0; i < seeds.Length; i++)
        {
            settings[$"Registry__Seeds__{i}__Model"] = seeds[i].Model;
            settings[$"Registry__Seeds__{i}__Directory"] = seeds[i].Directory;
        }

        return RegistryServer.StartReadyAsync(cluster.Infrastructure, settings);
    }

    private static Task<RegisteredModel> ProductionAsync(RegistryServer registry, string model) =>
        Poll.UntilAsync(async () =>
        {
            try
            {
                return await registry.Reader.GetModelAsync(new GetModelRequest { Model = model });
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
            {
                return new RegisteredModel();
            }
        }, found => found.ProductionVersion.Length > 0, SeedTimeout);
}
