using System.Security.Cryptography;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Testing;
using MsSwift.Testing.Services;

namespace MsSwift.Registry.Tests;

/// <summary>A registry configured for S3 (a real s3rver) reads the checkpoints it registers from the bucket.</summary>
[Collection(RegistryClusterGroup.Name)]
public sealed class S3RegistryTests(RegistryCluster cluster)
{
    [Fact]
    public async Task A_registry_on_s3_registers_a_checkpoint_from_the_bucket()
    {
        await using var s3 = await S3Server.StartAsync();
        var options = new S3CheckpointStoreOptions
        {
            ServiceUrl = s3.ServiceUrl, Bucket = s3.Bucket, Prefix = "prod", AccessKey = S3Server.AccessKey, SecretKey = S3Server.SecretKey,
        };
        var bytes = await File.ReadAllBytesAsync(Path.Combine(cluster.Infrastructure.CheckpointDirectory, "tiny", "v2", "model.safetensors"));
        await options.CreateStore().SaveAsync("tiny/v2/model.safetensors", (stream, token) => stream.WriteAsync(bytes, token).AsTask());
        await using var registry = await RegistryServer.StartReadyAsync(cluster.Infrastructure, new Dictionary<string, string?>
        {
            ["Registry__CheckpointS3__ServiceUrl"] = options.ServiceUrl,
            ["Registry__CheckpointS3__Bucket"] = options.Bucket,
            ["Registry__CheckpointS3__Prefix"] = options.Prefix,
            ["Registry__CheckpointS3__AccessKey"] = options.AccessKey,
            ["Registry__CheckpointS3__SecretKey"] = options.SecretKey,
            // Nothing is on this path: the bucket must be what the registry reads.
            ["Registry__CheckpointDirectory"] = "/nonexistent",
        });

        var model = await registry.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = "s3-model", Checkpoint = "tiny/v2/model.safetensors" });

        var version = Assert.Single(model.Versions);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), version.Sha256);
        Assert.Equal(bytes.Length, version.SizeBytes);
    }
}
