using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Grpc.Core;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;

namespace MsSwift.Registry.Tests;

/// <summary>QuantizeVersion: the registry writes an int8 checkpoint and registers it as a child version, over gRPC and HTTP.</summary>
[Collection(RegistryClusterGroup.Name)]
public sealed class QuantizeVersionTests(RegistryCluster cluster)
{
    [Fact]
    public async Task Quantizing_registers_an_int8_child_with_its_own_size_and_hash_once()
    {
        const string name = "quantize-test";
        var registered = await cluster.First.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = name, Version = "v1", Checkpoint = "tiny/v1/model.safetensors" });

        var model = await cluster.First.Admin.QuantizeVersionAsync(new QuantizeVersionRequest { Model = name, Version = "v1" });
        var again = await cluster.Second.Admin.QuantizeVersionAsync(new QuantizeVersionRequest { Model = name, Version = "v1", TargetVersion = "other" });
        var events = cluster.ReadEvents(name, 2, TimeSpan.FromSeconds(30));

        var source = registered.Versions.Single();
        var child = Assert.Single(model.Versions, version => version.Version == "v1-int8");
        var file = Path.Combine(cluster.Infrastructure.CheckpointDirectory, child.Checkpoint);
        Assert.Equal(("v1", "int8", "", source.ConfigJson, source.Tokenizer), (child.ParentVersion, child.Quantization, source.Quantization, child.ConfigJson, child.Tokenizer));
        Assert.Equal(new FileInfo(file).Length, child.SizeBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(file))), child.Sha256);
        Assert.NotEqual(source.Sha256, child.Sha256);
        Assert.True(child.SizeBytes < source.SizeBytes * 0.4, $"int8 checkpoint {child.SizeBytes} B vs fp32 {source.SizeBytes} B");
        Assert.Equal(model, again);
        Assert.Equal([ModelEventType.Registered, ModelEventType.Registered], events.Select(modelEvent => modelEvent.Type));
    }

    [Fact]
    public async Task Refusals_name_the_problem()
    {
        const string name = "quantize-refusals";
        await cluster.First.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = name, Version = "v1", Checkpoint = "tiny/v1/model.safetensors" });
        await cluster.First.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = name, Version = "v2", Checkpoint = "tiny/v2/model.safetensors" });
        await cluster.First.Admin.QuantizeVersionAsync(new QuantizeVersionRequest { Model = name, Version = "v1" });

        Assert.Equal(StatusCode.NotFound, await RefusedAsync(new QuantizeVersionRequest { Model = "nobody", Version = "v1" }));
        Assert.Equal(StatusCode.NotFound, await RefusedAsync(new QuantizeVersionRequest { Model = name, Version = "v9" }));
        Assert.Equal(StatusCode.FailedPrecondition, await RefusedAsync(new QuantizeVersionRequest { Model = name, Version = "v1-int8" }));
        Assert.Equal(StatusCode.AlreadyExists, await RefusedAsync(new QuantizeVersionRequest { Model = name, Version = "v2", TargetVersion = "v1" }));
        Assert.Equal(StatusCode.InvalidArgument, await RefusedAsync(new QuantizeVersionRequest { Model = name, Version = "v2", TargetVersion = "bad name" }));
        Assert.Equal(StatusCode.FailedPrecondition, await RefusedAsync(new QuantizeVersionRequest { Model = name, Version = "v2", ExpectedRevision = 1 }));

        using var http = new HttpClient { BaseAddress = cluster.Second.HttpAddress };
        var badJson = await http.PostAsync($"/registry/models/{name}/versions/v2/quantize", new StringContent("{\"targetVersion\": 5", System.Text.Encoding.UTF8, "application/json"));
        var created = await http.PostAsJsonAsync($"/registry/models/{name}/versions/v2/quantize", new { targetVersion = "v2-small" });
        var repeated = await http.PostAsync($"/registry/models/{name}/versions/v2/quantize", null);
        var unknown = await http.PostAsync($"/registry/models/{name}/versions/v7/quantize", null);

        Assert.Equal(HttpStatusCode.BadRequest, badJson.StatusCode);
        Assert.Equal("application/problem+json", badJson.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var model = RegisteredModel.Parser.ParseJson(await created.Content.ReadAsStringAsync());
        Assert.Equal(("v2", "int8"), model.Versions.Where(version => version.Version == "v2-small").Select(version => (version.ParentVersion, version.Quantization)).Single());
        Assert.Equal(HttpStatusCode.OK, repeated.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Quantizations_of_one_version_that_race_on_two_replicas_leave_one_int8_copy()
    {
        const string name = "quantize-race";
        await cluster.First.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = name, Version = "v1", Checkpoint = "tiny/v1/model.safetensors" });

        var answers = await Task.WhenAll(
            cluster.First.Admin.QuantizeVersionAsync(new QuantizeVersionRequest { Model = name, Version = "v1" }).ResponseAsync,
            cluster.Second.Admin.QuantizeVersionAsync(new QuantizeVersionRequest { Model = name, Version = "v1", TargetVersion = "other" }).ResponseAsync);

        var model = await cluster.First.Reader.GetModelAsync(new GetModelRequest { Model = name });
        var copy = Assert.Single(model.Versions, version => version.Quantization == "int8");
        Assert.All(answers, answer => Assert.Equal(copy.Version, Assert.Single(answer.Versions, version => version.Quantization == "int8").Version));
    }

    private async Task<StatusCode> RefusedAsync(QuantizeVersionRequest request)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => cluster.First.Admin.QuantizeVersionAsync(request).ResponseAsync);
        return error.StatusCode;
    }
}
