using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.Registry.Storage;
using StackExchange.Redis;

namespace MsSwift.Registry.Tests;

/// <summary>The registry as clients use it: real processes over gRPC and HTTP, state in real Redis, events on the real broker.</summary>
[Collection(RegistryClusterGroup.Name)]
public sealed class RegistryApiTests(RegistryCluster cluster)
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Register_records_size_sha256_config_and_tokenizer_read_from_the_checkpoint()
    {
        var file = Path.Combine(cluster.Infrastructure.CheckpointDirectory, "tiny", "v1", "model.safetensors");

        var model = await cluster.First.Admin.RegisterVersionAsync(new RegisterVersionRequest
        {
            Model = "register-test", Checkpoint = "tiny/v1/model.safetensors", SourceJob = "job-1", Metrics = { ["eval_loss"] = 1.25 },
        });

        var version = Assert.Single(model.Versions);
        Assert.Equal("v1", version.Version);
        Assert.Equal(new FileInfo(file).Length, version.SizeBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(file))), version.Sha256);
        Assert.Equal(64, JsonDocument.Parse(version.ConfigJson).RootElement.GetProperty("n_embd").GetInt32());
        Assert.Equal("byte", version.Tokenizer);
        Assert.Equal(1.25, version.Metrics["eval_loss"]);
        Assert.Equal("job-1", version.SourceJob);
        Assert.Equal(model, await cluster.Second.Reader.GetModelAsync(new GetModelRequest { Model = "register-test" }));

        Assert.Equal(StatusCode.AlreadyExists, await RefusedAsync(cluster.First.Admin.RegisterVersionAsync(
            new RegisterVersionRequest { Model = "register-test", Version = "v1", Checkpoint = "tiny/v1/model.safetensors" })));
        Assert.Equal(StatusCode.FailedPrecondition, await RefusedAsync(cluster.First.Admin.RegisterVersionAsync(
            new RegisterVersionRequest { Model = "register-test", Checkpoint = "tiny/v9/model.safetensors" })));
        Assert.Equal(StatusCode.InvalidArgument, await RefusedAsync(cluster.First.Admin.RegisterVersionAsync(
            new RegisterVersionRequest { Model = "bad name", Checkpoint = "tiny/v1/model.safetensors" })));
        Assert.Equal(StatusCode.NotFound, await RefusedAsync(cluster.First.Reader.GetModelAsync(new GetModelRequest { Model = "nobody" })));
    }

    [Fact]
    public async Task A_jobs_repeated_registrations_on_either_replica_make_one_version_and_one_event()
    {
        const string name = "idempotent-test";
        var first = await cluster.First.Admin.RegisterVersionAsync(new RegisterVersionRequest
        {
            Model = name, Checkpoint = "tiny/v1/model.safetensors", SourceJob = "job-once", Metrics = { ["eval_loss"] = 2.0 },
        });

        // A retry, a successor with another checkpoint and a stale revision, and two at once: all get the first answer.
        var retried = await cluster.Second.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = name, Checkpoint = "tiny/v1/model.safetensors", SourceJob = "job-once" });
        var successor = await cluster.First.Admin.RegisterVersionAsync(new RegisterVersionRequest
        {
            Model = name, Checkpoint = "tiny/v2/model.safetensors", SourceJob = "job-once", Version = "v9", ExpectedRevision = 99,
        });
        var racing = await Task.WhenAll(cluster.First.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = name, Checkpoint = "tiny/v2/model.safetensors", SourceJob = "job-race" }).ResponseAsync,
            cluster.Second.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = name, Checkpoint = "tiny/v2/model.safetensors", SourceJob = "job-race" }).ResponseAsync);
        // One real change after them: its event comes right after the two registrations, or there was another.
        await cluster.First.Admin.PromoteAsync(new ChangeVersionRequest { Model = name, Version = "v1" });
        var events = cluster.ReadEvents(name, 3, EventTimeout);

        Assert.Equal(first, retried);
        Assert.Equal(first, successor);
        var version = Assert.Single(successor.Versions);
        Assert.Equal(("v1", "tiny/v1/model.safetensors", 2.0), (version.Version, version.Checkpoint, version.Metrics["eval_loss"]));
        Assert.All(racing, answer => Assert.Equal(["job-once", "job-race"], answer.Versions.Select(registered => registered.SourceJob)));
        Assert.Equal(racing[0].Revision, racing[1].Revision);
        Assert.Equal(2, racing[0].Revision);
        Assert.Equal([ModelEventType.Registered, ModelEventType.Registered, ModelEventType.Promoted], events.Select(modelEvent => modelEvent.Type));
    }

    [Fact]
    public async Task A_fine_tuned_version_records_its_parent_over_grpc_and_http_and_an_unknown_parent_is_refused()
    {
        const string name = "lineage-test";
        await RegisterAsync(name, "v1");
        using var http = new HttpClient { BaseAddress = cluster.Second.HttpAddress };

        var child = await cluster.First.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = name, Checkpoint = "tiny/v2/model.safetensors", ParentVersion = "v1" });
        var unknown = await Assert.ThrowsAsync<RpcException>(() => cluster.First.Admin.RegisterVersionAsync(
            new RegisterVersionRequest { Model = name, Checkpoint = "tiny/v2/model.safetensors", ParentVersion = "v7" }).ResponseAsync);
        var overHttp = await http.PostAsJsonAsync($"/registry/models/{name}/versions", new { checkpoint = "tiny/v2/model.safetensors", parentVersion = "v2" });
        var badOverHttp = await http.PostAsJsonAsync($"/registry/models/{name}/versions", new { checkpoint = "tiny/v2/model.safetensors", parentVersion = "v7" });
        var shown = await http.GetFromJsonAsync<JsonElement>($"/registry/models/{name}");

        Assert.Equal("v1", child.Versions.Single(version => version.Version == "v2").ParentVersion);
        Assert.Equal(StatusCode.InvalidArgument, unknown.StatusCode);
        Assert.Equal("parent_version", Assert.Single(unknown.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations).Field);
        Assert.Equal(HttpStatusCode.Created, overHttp.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badOverHttp.StatusCode);
        Assert.Equal(["", "v1", "v2"], shown.GetProperty("versions").EnumerateArray()
            .Select(version => version.TryGetProperty("parentVersion", out var parent) ? parent.GetString() : ""));
    }

    [Fact]
    public async Task Every_change_publishes_its_event_in_order_keyed_by_model()
    {
        const string name = "events-test";
        await RegisterAsync(name, "v1", "v2");
        await cluster.First.Admin.PromoteAsync(new ChangeVersionRequest { Model = name, Version = "v1" });
        await cluster.Second.Admin.SetCanaryAsync(new SetCanaryRequest { Model = name, Version = "v2", Percent = 25 });
        await cluster.First.Admin.PromoteAsync(new ChangeVersionRequest { Model = name, Version = "v2" });
        var final = await cluster.Second.Admin.RollBackAsync(new RollBackRequest { Model = name });

        var events = cluster.ReadEvents(name, 6, EventTimeout);

        Assert.Equal(
            [ModelEventType.Registered, ModelEventType.Registered, ModelEventType.Promoted, ModelEventType.CanarySet, ModelEventType.Promoted, ModelEventType.RolledBack],
            events.Select(modelEvent => modelEvent.Type));
        Assert.Equal(["v1", "v2", "v1", "v2", "v2", "v1"], events.Select(modelEvent => modelEvent.Version));
        Assert.Equal(25, events[3].CanaryPercent);
        Assert.Equal("tiny/v1/model.safetensors", events[5].Checkpoint);
        Assert.Equal("v1", final.ProductionVersion);
        Assert.Equal(6, final.Revision);
    }

    [Fact]
    public async Task Two_promotes_from_the_same_revision_on_two_replicas_have_exactly_one_winner()
    {
        const string name = "race-test";
        var registered = await RegisterAsync(name, "v1", "v2");

        var attempts = await Task.WhenAll(
            Outcome(cluster.First.Admin.PromoteAsync(new ChangeVersionRequest { Model = name, Version = "v1", ExpectedRevision = registered.Revision }).ResponseAsync),
            Outcome(cluster.Second.Admin.PromoteAsync(new ChangeVersionRequest { Model = name, Version = "v2", ExpectedRevision = registered.Revision }).ResponseAsync));

        var winner = Assert.Single(attempts, attempt => attempt.Model is not null).Model!;
        var loser = Assert.Single(attempts, attempt => attempt.Model is null);
        Assert.Contains(loser.Status, new[] { StatusCode.FailedPrecondition, StatusCode.Aborted });
        var stored = await cluster.First.Reader.GetModelAsync(new GetModelRequest { Model = name });
        Assert.Equal(winner.ProductionVersion, stored.ProductionVersion);
        Assert.Equal(registered.Revision + 1, stored.Revision);
    }

    [Fact]
    public async Task Racing_changes_without_revisions_never_lose_an_update()
    {
        const string name = "no-lost-updates";
        var registered = await RegisterAsync(name, "v1", "v2");

        // 24 promotes at once through both replicas: each commits on the revision it read or is refused.
        var attempts = await Task.WhenAll(Enumerable.Range(0, 24).Select(i =>
            Outcome((i % 2 == 0 ? cluster.First : cluster.Second).Admin.PromoteAsync(
                new ChangeVersionRequest { Model = name, Version = i % 4 < 2 ? "v1" : "v2" }).ResponseAsync)));

        var successes = attempts.Count(attempt => attempt.Model is not null);
        var stored = await cluster.First.Reader.GetModelAsync(new GetModelRequest { Model = name });
        Assert.True(successes >= 1);
        Assert.All(attempts.Where(attempt => attempt.Model is null), attempt =>
            Assert.Contains(attempt.Status, new[] { StatusCode.Aborted, StatusCode.FailedPrecondition }));
        Assert.Equal(registered.Revision + successes, stored.Revision);
        Assert.Equal(successes - 1, stored.ProductionHistory.Count);
    }

    [Fact]
    public async Task Http_api_answers_problem_details_and_honours_if_match()
    {
        const string name = "http-test";
        using var http = new HttpClient { BaseAddress = cluster.First.HttpAddress };
        var created = await http.PostAsJsonAsync($"/registry/models/{name}/versions", new { checkpoint = "tiny/v1/model.safetensors", version = "v1" });
        var etag = created.Headers.ETag?.Tag;
        await http.PostAsJsonAsync($"/registry/models/{name}/versions", new { checkpoint = "tiny/v2/model.safetensors" });
        var promote = await http.PostAsync($"/registry/models/{name}/versions/v1/promote", null);

        using var stale = new HttpRequestMessage(HttpMethod.Post, $"/registry/models/{name}/versions/v2/promote");
        stale.Headers.TryAddWithoutValidation("If-Match", etag);
        var staleAnswer = await http.SendAsync(stale);
        var deleteProduction = await http.DeleteAsync($"/registry/models/{name}/versions/v1");
        var unknown = await http.GetAsync("/registry/models/nobody");
        var badBody = await http.PostAsync($"/registry/models/{name}/versions", new StringContent("{\"checkpoint\": 5, \"colour\": 1}", System.Text.Encoding.UTF8, "application/json"));
        var shown = await http.GetFromJsonAsync<JsonElement>($"/registry/models/{name}");

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("\"1\"", etag);
        Assert.Equal(HttpStatusCode.OK, promote.StatusCode);
        Assert.Equal(HttpStatusCode.PreconditionFailed, staleAnswer.StatusCode);
        Assert.Contains("not the expected 1", (await staleAnswer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Conflict, deleteProduction.StatusCode);
        Assert.Equal("application/problem+json", deleteProduction.Content.Headers.ContentType?.MediaType);
        Assert.Contains("in production", (await deleteProduction.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badBody.StatusCode);
        Assert.Equal("v1", shown.GetProperty("productionVersion").GetString());
        Assert.Equal(2, shown.GetProperty("versions").GetArrayLength());
    }

    [Fact]
    public async Task An_event_left_in_the_outbox_by_a_dead_publisher_is_published_by_the_sweep()
    {
        const string name = "outbox-test";
        var orphan = new ModelEvent
        {
            EventId = Guid.NewGuid().ToString("N"),
            Type = ModelEventType.Promoted,
            Model = name,
            Version = "v1",
            Checkpoint = "tiny/v1/model.safetensors",
            OccurredAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(-1)),
        };
        await using (var redis = await ConnectionMultiplexer.ConnectAsync(cluster.Infrastructure.Redis.ConnectionString))
        {
            await redis.GetDatabase().ListRightPushAsync(ModelStore.OutboxKey, orphan.ToByteArray());
        }

        var published = cluster.ReadEvents(name, 1, EventTimeout);

        Assert.Equal(orphan.EventId, Assert.Single(published).EventId);
    }

    [Fact]
    public async Task Canaries_are_listed_alone_by_name_a_page_at_a_time()
    {
        var percents = new Dictionary<string, int> { ["canaries-a"] = 10, ["canaries-b"] = 20, ["canaries-c"] = 30 };
        foreach (var (name, percent) in percents)
        {
            await RegisterAsync(name, "v1", "v2");
            await cluster.First.Admin.PromoteAsync(new ChangeVersionRequest { Model = name, Version = "v1" });
            await cluster.First.Admin.SetCanaryAsync(new SetCanaryRequest { Model = name, Version = "v2", Percent = percent });
        }

        await RegisterAsync("canaries-none", "v1", "v2");

        var pages = new List<ListCanariesResponse>();
        var request = new ListCanariesRequest { PageSize = 2 };
        do
        {
            pages.Add(await cluster.Second.Reader.ListCanariesAsync(request));
            request.PageToken = pages[^1].NextPageToken;
        }
        while (request.PageToken.Length > 0 && pages.Count < 100);
        var listed = pages.SelectMany(page => page.Canaries).ToList();

        Assert.All(pages, page => Assert.InRange(page.Canaries.Count, 0, 2));
        Assert.Equal(listed.Select(entry => entry.Model).Order(StringComparer.Ordinal), listed.Select(entry => entry.Model));
        Assert.Equal(
            percents.Select(entry => $"{entry.Key}: v2 {entry.Value}%"),
            listed.Where(entry => entry.Model.StartsWith("canaries-", StringComparison.Ordinal)).Select(entry => $"{entry.Model}: {entry.Canary.Version} {entry.Canary.Percent}%"));
        Assert.All(listed, entry => Assert.InRange(entry.Canary.Percent, 1, 99));
        Assert.Equal(StatusCode.InvalidArgument, await RefusedAsync(cluster.First.Reader.ListCanariesAsync(new ListCanariesRequest { PageSize = 1001 })));
        Assert.Equal(StatusCode.InvalidArgument, await RefusedAsync(cluster.First.Reader.ListCanariesAsync(new ListCanariesRequest { PageToken = "not a name" })));
    }

    private async Task<RegisteredModel> RegisterAsync(string name, params string[] versions)
    {
        RegisteredModel model = null!;
        foreach (var version in versions)
        {
            model = await cluster.First.Admin.RegisterVersionAsync(new RegisterVersionRequest
            {
                Model = name, Version = version, Checkpoint = $"tiny/{version}/model.safetensors",
            });
        }

        return model;
    }

    private static async Task<(RegisteredModel? Model, StatusCode Status)> Outcome(Task<RegisteredModel> call)
    {
        try
        {
            return (await call, StatusCode.OK);
        }
        catch (RpcException error)
        {
            return (null, error.StatusCode);
        }
    }

    private static async Task<StatusCode> RefusedAsync<T>(AsyncUnaryCall<T> call) =>
        (await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync)).StatusCode;
}
